package bundle

import "errors"

// The kinds of failure, for errors.Is: a receiver can report which one
// happened; every error also says what was wrong in words.
var (
	// ErrFormat: not a bundle, a format this package does not read, or a
	// malformed or invalid header.
	ErrFormat = errors.New("not a valid update bundle")
	// ErrUntrusted: signed by a key that is not trusted, or the signature
	// does not verify.
	ErrUntrusted = errors.New("bundle not trusted")
	// ErrTruncated: the bundle ended early.
	ErrTruncated = errors.New("bundle truncated")
	// ErrCorrupt: the payload's hash differs from the signed one, or data
	// follows the payload.
	ErrCorrupt = errors.New("bundle corrupt")
	// ErrTooLarge: the header or the payload exceeds the reader's Limits.
	ErrTooLarge = errors.New("bundle too large")
	// ErrNotApplicable: Check refused the bundle for the running system.
	ErrNotApplicable = errors.New("bundle does not apply to this system")
)
