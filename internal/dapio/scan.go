package dapio

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// topLevelFields calls fn with the name of each field of the JSON object
// in body, in order, and the byte span of its value.
//
// The bridge reads only a message's top level (its envelope) and forwards
// everything else untouched, so nested values — a response's body, a
// request's arguments — are skipped rather than decoded: brackets are
// matched and strings followed to their closing quote, and nothing inside
// is checked further; the receiver decodes them. This keeps the bridge's
// cost per message to a pass over its bytes: encoding/json spent some 6 µs
// on each small message and 5 ms on a 1 MB variables response.
func topLevelFields(body []byte, fn func(name string, start, end int) error) error {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrNotMessage)
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return atEnd(body, i+1)
	}
	for {
		nameEnd, err := skipString(body, i)
		if err != nil {
			return err
		}
		var name string
		if err := decodeScalar(body[i:nameEnd], &name); err != nil {
			return fmt.Errorf("%w: field name: %v", ErrNotMessage, err)
		}
		i = skipSpace(body, nameEnd)
		if i == len(body) || body[i] != ':' {
			return fmt.Errorf("%w: no ':' after field %q", ErrNotMessage, name)
		}
		start := skipSpace(body, i+1)
		end, err := skipValue(body, start)
		if err != nil {
			return err
		}
		if err := fn(name, start, end); err != nil {
			return err
		}
		i = skipSpace(body, end)
		switch {
		case i < len(body) && body[i] == ',':
			i = skipSpace(body, i+1)
		case i < len(body) && body[i] == '}':
			return atEnd(body, i+1)
		default:
			return fmt.Errorf("%w: expected ',' or '}' after field %q", ErrNotMessage, name)
		}
	}
}

// atEnd checks that only white space follows the object.
func atEnd(body []byte, i int) error {
	if skipSpace(body, i) != len(body) {
		return fmt.Errorf("%w: data after the JSON object", ErrNotMessage)
	}
	return nil
}

func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at body[i].
func skipString(body []byte, i int) (int, error) {
	if i == len(body) || body[i] != '"' {
		return 0, fmt.Errorf("%w: expected a string at byte %d", ErrNotMessage, i)
	}
	for i++; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", ErrNotMessage)
}

// skipValue returns the index just past the value starting at body[i].
// Scalars (numbers, true, false, null) are checked with encoding/json;
// objects and arrays only for matching brackets (see topLevelFields).
func skipValue(body []byte, i int) (int, error) {
	if i == len(body) {
		return 0, fmt.Errorf("%w: missing value", ErrNotMessage)
	}
	switch body[i] {
	case '"':
		return skipString(body, i)
	case '{', '[':
		return skipNested(body, i)
	}
	end := i
	for end < len(body) && !endsScalar(body[end]) {
		end++
	}
	if !json.Valid(body[i:end]) {
		return 0, fmt.Errorf("%w: invalid value %q", ErrNotMessage, body[i:end])
	}
	return end, nil
}

// endsScalar says whether c ends a number, true, false or null.
func endsScalar(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// skipNested returns the index just past the object or array starting at
// body[i], matching brackets outside strings.
func skipNested(body []byte, i int) (int, error) {
	var open []byte // the closing brackets awaited, innermost last
	for ; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			end, err := skipString(body, i)
			if err != nil {
				return 0, err
			}
			i = end - 1
		case '{', '[':
			open = append(open, c+2) // '{'+2 is '}', '['+2 is ']'
		case '}', ']':
			if len(open) == 0 || open[len(open)-1] != c {
				return 0, fmt.Errorf("%w: unmatched %q at byte %d", ErrNotMessage, c, i)
			}
			open = open[:len(open)-1]
			if len(open) == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: unterminated object or array", ErrNotMessage)
}

// decodeScalar decodes a string, number or boolean into dst (a *string,
// *int or *bool). The common forms — a string without escapes, a plain
// integer, true or false — are read directly; anything else goes to
// encoding/json, which also produces the errors.
func decodeScalar(raw []byte, dst any) error {
	switch d := dst.(type) {
	case *string:
		if len(raw) >= 2 && raw[0] == '"' && plain(raw[1:len(raw)-1]) {
			*d = string(raw[1 : len(raw)-1])
			return nil
		}
	case *int:
		if n, err := strconv.Atoi(string(raw)); err == nil {
			*d = n
			return nil
		}
	case *bool:
		switch string(raw) {
		case "true", "false":
			*d = raw[0] == 't'
			return nil
		}
	}
	return json.Unmarshal(raw, dst)
}

// plain says whether the inside of a JSON string needs no decoding: no
// escapes, no control characters (invalid there) and no quote.
func plain(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return true
}
