package gdbmi

import (
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of tuples and lists so that a hostile or
// corrupt line cannot exhaust the stack; real GDB output nests a few levels.
const maxDepth = 256

// ParseRecord parses one line of GDB/MI output. It never panics: a line that
// does not follow the MI grammar (a program's own output, a warning GDB
// printed raw, a truncated record) comes back as KindOther with Text set to
// the line. A trailing "\r\n" or "\n" is ignored.
func ParseRecord(line string) Record {
	line = strings.TrimRight(line, "\r\n")
	if r, ok := parseLine(line); ok {
		return r
	}
	return Record{Kind: KindOther, Text: line}
}

// parseLine parses an MI output line:
//
//	prompt:  "(gdb)" [" "]
//	stream:  ("~" | "@" | "&") c-string
//	record:  [token] ("^" | "*" | "+" | "=") class ("," result)*
func parseLine(line string) (Record, bool) {
	if line == promptText || line == promptText+" " {
		return Record{Kind: KindPrompt}, true
	}
	if kind, ok := streamKind(line); ok {
		text, end, ok := readCString(line, 1)
		return Record{Kind: kind, Text: text}, ok && end == len(line)
	}
	p := parser{s: line}
	var r Record
	var ok bool
	if r.Token, r.HasToken, ok = p.token(); !ok {
		return Record{}, false
	}
	if r.Kind, ok = p.recordKind(); !ok {
		return Record{}, false
	}
	if r.Class = p.name(); r.Class == "" {
		return Record{}, false
	}
	for p.i < len(p.s) {
		if !p.eat(',') {
			return Record{}, false
		}
		res, ok := p.result()
		if !ok {
			return Record{}, false
		}
		r.Results = append(r.Results, res)
	}
	return r, true
}

// streamKind tells whether line starts like a stream record, and which.
func streamKind(line string) (Kind, bool) {
	if line == "" {
		return 0, false
	}
	switch line[0] {
	case prefix[KindConsole]:
		return KindConsole, true
	case prefix[KindTarget]:
		return KindTarget, true
	case prefix[KindLog]:
		return KindLog, true
	}
	return 0, false
}

// parser is a cursor over one line.
type parser struct {
	s     string
	i     int
	depth int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

// token reads the optional decimal token; a token too large for uint64 is
// malformed.
func (p *parser) token() (uint64, bool, bool) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == start {
		return 0, false, true
	}
	tok, err := strconv.ParseUint(p.s[start:p.i], 10, 64)
	return tok, true, err == nil
}

// recordKind reads the character that says what sort of record follows.
func (p *parser) recordKind() (Kind, bool) {
	for _, k := range []Kind{KindResult, KindExec, KindStatus, KindNotify} {
		if p.eat(prefix[k]) {
			return k, true
		}
	}
	return 0, false
}

// name reads a class or a result's variable name: anything up to the next
// syntax character. GDB's names are like "thread-id" or "frame".
func (p *parser) name() string {
	start := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isNameByte(c byte) bool {
	return c > ' ' && !strings.ContainsRune(`=,{}[]"\`, rune(c))
}

// result reads name=value.
func (p *parser) result() (Result, bool) {
	name := p.name()
	if name == "" || !p.eat('=') {
		return Result{}, false
	}
	v, ok := p.value()
	return Result{Name: name, Value: v}, ok
}

// value reads a c-string, a tuple or a list.
func (p *parser) value() (Value, bool) {
	switch p.peek() {
	case '"':
		s, end, ok := readCString(p.s, p.i)
		p.i = end
		return String(s), ok
	case '{':
		return p.tuple()
	case '[':
		return p.list()
	}
	return nil, false
}

// tuple reads {} or {result,...}.
func (p *parser) tuple() (Value, bool) {
	t := Tuple{}
	ok := p.sequence('{', '}', func() bool {
		r, ok := p.result()
		t = append(t, r)
		return ok
	})
	return t, ok
}

// list reads [] or [element,...] where each element is a value or, as GDB
// writes for frames and breakpoints, a result.
func (p *parser) list() (Value, bool) {
	l := List{}
	ok := p.sequence('[', ']', func() bool {
		var v Value
		var ok bool
		if c := p.peek(); c == '"' || c == '{' || c == '[' {
			v, ok = p.value()
		} else {
			v, ok = p.result()
		}
		l = append(l, v)
		return ok
	})
	return l, ok
}

// sequence reads open, zero or more comma-separated elements, and close,
// enforcing maxDepth.
func (p *parser) sequence(open, close byte, element func() bool) bool {
	if !p.eat(open) || p.depth >= maxDepth {
		return false
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.eat(close) {
		return true
	}
	for {
		if !element() {
			return false
		}
		if p.eat(close) {
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}
