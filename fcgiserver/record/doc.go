// Package record is the FastCGI 1.0 record layer shared by the fcgiserver
// (application side) and by FastCGI clients such as a web front end.
//
// A record is an 8-byte header (version, type, request ID, content length,
// padding length, reserved) followed by up to 65535 bytes of content and
// 0-255 bytes of padding. This package reads any padding a peer sends and
// writes padding that aligns every record to 8 bytes.
//
// # Reading
//
// [Reader] returns one [Record] at a time. The record's Content points into
// the reader's buffer and stays valid only until the next call to
// [Reader.Next]; the reader allocates nothing once its buffer has grown to
// the largest record seen (at most 8+65535+255 bytes).
//
// # Writing
//
// [Writer] buffers records and sends them with one write per [Writer.Flush].
// Streams (PARAMS, STDIN, STDOUT, STDERR, DATA) are split into records of at
// most [MaxContent] bytes and ended by an empty record ([Writer.CloseStream]).
// Application records never use request ID 0, which is reserved for
// management records (GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE); the
// writer refuses to break that rule. A client sends a request with:
//
//	w := record.NewWriter(conn)
//	w.WriteBeginRequest(1, record.RoleResponder, 0)
//	w.WriteParams(1, []record.Pair{{Name: "REQUEST_METHOD", Value: "GET"}})
//	w.CloseStream(record.TypeStdin, 1) // or w.Stream(record.TypeStdin, 1) + io.Copy + Close
//	w.Flush()
//
// and reads STDOUT, STDERR and END_REQUEST records with a [Reader], decoding
// the last with [ParseEndRequest].
//
// The Append* functions build records into a caller's byte slice without
// allocating; they are what the Writer and the server's hot path use.
//
// # Name-value pairs
//
// PARAMS, GET_VALUES and GET_VALUES_RESULT carry name-value pairs whose
// lengths take one byte (0-127) or four bytes (high bit set, up to 2^31-1).
// [AppendPair] encodes one pair; [NextPair] and [NextPairString] decode one
// pair at a time without allocating; [ParsePairs] decodes a whole buffer.
package record
