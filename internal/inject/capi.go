package inject

import "fmt"

// capiSlot is one of the C-API functions the injection calls, numbered as
// the trampoline's data block holds their addresses.
type capiSlot int

const (
	slotIsInitialized  capiSlot = iota // Py_IsInitialized
	slotGILCheck                       // PyGILState_Check
	slotGILEnsure                      // PyGILState_Ensure
	slotRunString                      // PyRun_SimpleString
	slotGILRelease                     // PyGILState_Release
	slotAddPendingCall                 // Py_AddPendingCall
	numSlots
)

// CAPIFunctions are the C-API functions the injection calls, by either
// mechanism, in slot order. A CPython that does not export them all cannot
// be attached to with gdb (`pyattach doctor PID` checks them).
var CAPIFunctions = [numSlots]string{
	slotIsInitialized:  "Py_IsInitialized",
	slotGILCheck:       "PyGILState_Check",
	slotGILEnsure:      "PyGILState_Ensure",
	slotRunString:      "PyRun_SimpleString",
	slotGILRelease:     "PyGILState_Release",
	slotAddPendingCall: "Py_AddPendingCall",
}

func (s capiSlot) String() string { return CAPIFunctions[s] }

// callExpr renders a gdb expression that calls s through a function
// pointer of the given C type: functions without debug information need
// the cast, and their names must resolve in the program.
func callExpr(s capiSlot, cType string, args ...any) string {
	call := fmt.Sprintf("((%s)%s)(", cType, s)
	for i, a := range args {
		if i > 0 {
			call += ", "
		}
		call += fmt.Sprint(a)
	}
	return call + ")"
}
