// Package bundle is the signed update bundle (a .mkup file) and the keys
// that sign it. The build host writes bundles (Write, Create) with a private
// key made by `mkimage keygen`; the appliance reads them (Open) with the
// public keys baked into its image, and decides from the signed header
// alone, before writing a byte, whether the update applies to it (Check).
//
// Everything streams: a Reader holds the header (at most 64 KiB) and a
// hash state, never the payload, so a 128 MiB machine can receive an image
// larger than its memory.
//
// # Format, byte by byte
//
//	offset   size  content
//	0        4     magic "MKUP"
//	4        1     format byte 0x01
//	5        4     N, the header's length: uint32 big-endian, 1 <= N <= 65536
//	9        N     the header: UTF-8 JSON of Header (below)
//	9+N      8     key id: the first 8 bytes of SHA-256 of the signer's raw
//	               32-byte ed25519 public key
//	17+N     64    ed25519 signature over SignedPrefix ("mkimage-bundle-v1"
//	               and one zero byte) followed by the N header bytes
//	81+N     S     the payload: exactly S = header.payload.size bytes
//	81+N+S   -     the end: nothing may follow
//
// The header, as Write encodes it (json.Marshal of Header; a reader refuses
// unknown fields, a format other than 1 and anything after the object):
//
//	{
//	  "format": 1,                       // always 1
//	  "board": "pc", "arch": "amd64",    // what the image is built for
//	  "version": "1.4.0",                // semver, no leading v
//	  "downgrade": false,                // signed permission to install a version
//	                                     // older than or equal to the running one
//	  "created": "2026-01-02T15:04:05Z", // RFC 3339, informational
//	  "payload": {
//	    "size": 48213345,                // bytes after the signature block
//	    "sha256": "9f86d0...",           // hex, 64 lowercase digits
//	    "encoding": "zstd",              // "zstd" or "raw"
//	    "image_size": 134217728          // decoded size: what the slot receives
//	  },
//	  "keys": ["mkimage-ed25519 ..."],   // optional: the new trusted keys, one
//	                                     // public key line each; never empty
//	  "meta": {"tool": "0.1.0"}          // optional free text
//	}
//
// The signature covers the header, and the header carries the payload's
// size and SHA-256, so one signature covers the whole bundle. The key id is
// only a hint to pick the key; it is not signed. A receiver refuses a wrong
// key, a wrong board or arch, a downgrade or an image too large for its slot
// from the header alone; it learns of a truncated or altered payload only at
// its end (Reader.Verify), and must then not switch to what it wrote. The
// keys list takes effect only after the whole bundle verified.
//
// # Keys
//
// A private key is PEM "PRIVATE KEY" (PKCS #8, as crypto/x509 writes it).
// A public key is one line of text:
//
//	mkimage-ed25519 <base64 of the raw 32-byte key> [comment]
package bundle
