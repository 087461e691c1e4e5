package gdbmi

import (
	"strings"
	"unicode/utf8"
)

// escapes maps the character after a backslash to the byte it stands for,
// for the single-character escapes GDB writes (see printchar in gdb/utils.c)
// plus the remaining C ones.
var escapes = map[byte]byte{
	'n': '\n', 't': '\t', 'r': '\r', 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v',
	'e': 0x1b, '"': '"', '\\': '\\', '\'': '\'', '?': '?',
}

// namedEscapes is the inverse of escapes for the bytes that GDB writes by
// name; other control bytes are written in octal.
var namedEscapes = map[rune]string{
	'\n': `\n`, '\t': `\t`, '\r': `\r`, '\a': `\a`, '\b': `\b`, '\f': `\f`, '\v': `\v`,
	0x1b: `\e`, '"': `\"`, '\\': `\\`,
}

// readCString decodes the MI c-string starting at s[i], which must be the
// opening quote. It returns the decoded bytes and the index just past the
// closing quote. Octal escapes become raw bytes, so UTF-8 text that GDB
// escaped byte by byte comes back as UTF-8. Only the MI level of escaping is
// removed: a C string inside a GDB value keeps its own backslashes.
//
// Decoding is lenient where GDB's output cannot be ambiguous (an unknown
// escape stands for the character itself; an octal escape keeps the low
// eight bits), and fails only when the string is not terminated.
func readCString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	i++
	end := strings.IndexAny(s[i:], `"\`)
	if end < 0 {
		return "", i, false
	}
	if s[i+end] == '"' {
		return s[i : i+end], i + end + 1, true
	}
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			var ok bool
			if i, ok = readEscape(&b, s, i+1); !ok {
				return "", i, false
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", i, false
}

// readEscape decodes the escape whose first character is s[i] (just after
// the backslash) into b and returns the index after it.
func readEscape(b *strings.Builder, s string, i int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	if !isOctal(s[i]) {
		if c, ok := escapes[s[i]]; ok {
			b.WriteByte(c)
		} else {
			b.WriteByte(s[i])
		}
		return i + 1, true
	}
	var v byte
	for n := 0; n < 3 && i < len(s) && isOctal(s[i]); n++ {
		v = v<<3 | (s[i] - '0')
		i++
	}
	b.WriteByte(v)
	return i, true
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// writeCString writes s as an MI c-string. Printable and valid UTF-8 text is
// written as is so that logs stay readable; quotes, backslashes, control
// bytes and bytes that are not UTF-8 are escaped the way GDB escapes them.
func writeCString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case namedEscapes[r] != "":
			b.WriteString(namedEscapes[r])
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			writeOctal(b, s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// writeOctal writes c as a three-digit octal escape, as GDB does.
func writeOctal(b *strings.Builder, c byte) {
	b.WriteByte('\\')
	b.WriteByte('0' + c>>6)
	b.WriteByte('0' + c>>3&7)
	b.WriteByte('0' + c&7)
}
