package gdbmi

import (
	"strconv"
	"strings"
)

// Kind says what sort of line a Record came from.
type Kind int

// The kinds of GDB/MI output lines.
const (
	KindResult  Kind = iota // ^done, ^running, ^connected, ^error, ^exit
	KindExec                // *stopped, *running
	KindStatus              // +...
	KindNotify              // =...
	KindConsole             // ~"..."
	KindTarget              // @"..."
	KindLog                 // &"..."
	KindPrompt              // (gdb)
	KindOther               // a line that is not MI (kept verbatim in Text)
)

// prefix is the character that introduces each kind of record on the wire;
// it is also how a Record is written back by Record.String.
var prefix = [...]byte{
	KindResult:  '^',
	KindExec:    '*',
	KindStatus:  '+',
	KindNotify:  '=',
	KindConsole: '~',
	KindTarget:  '@',
	KindLog:     '&',
}

// promptText is GDB's prompt line without its trailing space.
const promptText = "(gdb)"

// Record is one parsed line of GDB/MI output.
type Record struct {
	Kind     Kind
	Token    uint64 // valid when HasToken
	HasToken bool
	Class    string // "done", "error", "stopped", "library-loaded", ...
	Results  Tuple  // the record's results, in order
	Text     string // decoded text of a stream record; the raw line for KindOther
}

// IsAsync reports whether r is an out-of-band exec, status or notify record,
// the kinds that Client.WaitAsync delivers.
func (r Record) IsAsync() bool {
	return r.Kind == KindExec || r.Kind == KindStatus || r.Kind == KindNotify
}

// String returns r in GDB/MI syntax, which is compact enough for logs and
// which ParseRecord reads back into an equal Record. A KindOther record is
// returned verbatim.
func (r Record) String() string {
	var b strings.Builder
	switch r.Kind {
	case KindPrompt:
		return promptText
	case KindConsole, KindTarget, KindLog:
		b.WriteByte(prefix[r.Kind])
		writeCString(&b, r.Text)
	case KindResult, KindExec, KindStatus, KindNotify:
		if r.HasToken {
			b.WriteString(strconv.FormatUint(r.Token, 10))
		}
		b.WriteByte(prefix[r.Kind])
		b.WriteString(r.Class)
		for _, res := range r.Results {
			b.WriteByte(',')
			res.write(&b)
		}
	default:
		return r.Text
	}
	return b.String()
}

// Value is a String, a Tuple or a List (or, as an element of a List, a
// Result).
type Value interface {
	write(b *strings.Builder)
}

// String is a decoded MI const (a C string with the MI-level escapes removed).
type String string

// Result is a name=value pair.
type Result struct {
	Name  string
	Value Value
}

// Tuple is an ordered sequence of results: {name=value,...}.
type Tuple []Result

// List is an ordered sequence of values: [...]. Its elements are String,
// Tuple, List, or Result, because MI lists may hold results:
// [frame={...},frame={...}].
type List []Value

// Get returns the value of the first result called name.
func (t Tuple) Get(name string) (Value, bool) {
	for _, r := range t {
		if r.Name == name {
			return r.Value, true
		}
	}
	return nil, false
}

// Str returns the named String; "" when absent or not a String.
func (t Tuple) Str(name string) string {
	v, _ := t.Get(name)
	s, _ := v.(String)
	return string(s)
}

// Tuple returns the named Tuple; nil when absent or not a Tuple.
func (t Tuple) Tuple(name string) Tuple {
	v, _ := t.Get(name)
	tu, _ := v.(Tuple)
	return tu
}

// List returns the named List; nil when absent or not a List.
func (t Tuple) List(name string) List {
	v, _ := t.Get(name)
	l, _ := v.(List)
	return l
}

func (s String) write(b *strings.Builder) { writeCString(b, string(s)) }

func (r Result) write(b *strings.Builder) {
	b.WriteString(r.Name)
	b.WriteByte('=')
	writeValue(b, r.Value)
}

// writeValue writes v, treating a nil Value (which ParseRecord never
// produces, but a hand-built Record may hold) as an empty string so that
// Record.String cannot panic.
func writeValue(b *strings.Builder, v Value) {
	if v == nil {
		v = String("")
	}
	v.write(b)
}

func (t Tuple) write(b *strings.Builder) {
	b.WriteByte('{')
	for i, r := range t {
		if i > 0 {
			b.WriteByte(',')
		}
		r.write(b)
	}
	b.WriteByte('}')
}

func (l List) write(b *strings.Builder) {
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		writeValue(b, v)
	}
	b.WriteByte(']')
}
