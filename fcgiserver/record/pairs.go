package record

import "fmt"

// Pair is one name-value pair of a PARAMS, GET_VALUES or GET_VALUES_RESULT
// record.
type Pair struct {
	Name, Value string
}

// maxPairLen is the largest length a 4-byte length field can hold.
const maxPairLen = 1<<31 - 1

// PairLen returns the encoded size of a name-value pair.
func PairLen(name, value string) int {
	return lenLen(len(name)) + lenLen(len(value)) + len(name) + len(value)
}

func lenLen(n int) int {
	if n <= 127 {
		return 1
	}
	return 4
}

func appendLen(dst []byte, n int) []byte {
	if n <= 127 {
		return append(dst, byte(n))
	}
	return append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// AppendPair appends the encoding of one name-value pair: lengths of up to
// 127 take one byte, longer ones four. It panics if a length exceeds 2^31-1.
func AppendPair(dst []byte, name, value string) []byte {
	if len(name) > maxPairLen || len(value) > maxPairLen {
		panic("fcgi record: name-value pair too long")
	}
	dst = appendLen(dst, len(name))
	dst = appendLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

// AppendPairs appends the encoding of pairs.
func AppendPairs(dst []byte, pairs []Pair) []byte {
	for _, p := range pairs {
		dst = AppendPair(dst, p.Name, p.Value)
	}
	return dst
}

// readLen decodes one length field from the start of b.
func readLen[S ~string | ~[]byte](b S) (n, used int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrPairTrunc
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, nil
	}
	if len(b) < 4 {
		return 0, 0, ErrPairTrunc
	}
	n = int(b[0]&0x7f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	return n, 4, nil
}

func nextPair[S ~string | ~[]byte](b S) (name, value, rest S, err error) {
	nl, u1, err := readLen(b)
	if err != nil {
		return name, value, b, err
	}
	vl, u2, err := readLen(b[u1:])
	if err != nil {
		return name, value, b, err
	}
	off := u1 + u2
	if nl > len(b)-off || vl > len(b)-off-nl {
		return name, value, b, fmt.Errorf("%w: lengths %d+%d, %d bytes left", ErrPairTrunc, nl, vl, len(b)-off)
	}
	name = b[off : off+nl]
	value = b[off+nl : off+nl+vl]
	return name, value, b[off+nl+vl:], nil
}

// NextPair decodes the first name-value pair of b and returns it with the
// bytes that follow. The name and value alias b. It does not allocate.
func NextPair(b []byte) (name, value, rest []byte, err error) {
	return nextPair(b)
}

// NextPairString is NextPair for a string; name and value are substrings of
// s, so decoding a whole PARAMS stream costs one string conversion.
func NextPairString(s string) (name, value, rest string, err error) {
	return nextPair(s)
}

// ParsePairs decodes every name-value pair of b, copying them to strings.
func ParsePairs(b []byte) ([]Pair, error) {
	s := string(b)
	var pairs []Pair
	for len(s) > 0 {
		name, value, rest, err := NextPairString(s)
		if err != nil {
			return pairs, fmt.Errorf("decoding pair %d: %w", len(pairs), err)
		}
		pairs = append(pairs, Pair{Name: name, Value: value})
		s = rest
	}
	return pairs, nil
}
