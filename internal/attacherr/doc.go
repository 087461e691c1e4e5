// Package attacherr is the catalogue of reasons an attach can fail.
//
// Every failure pyattach reports to a user — as a DAP error response to an
// editor or as a CLI message — is an *Error carrying a stable numeric Code,
// one sentence that says what happened, and one that says what to do. Codes
// never change meaning once released: editors, scripts and the README's
// "When attach fails" table refer to them. The adapter turns an *Error into a
// DAP ErrorResponse (error id = Code, showUser = true); the session and the
// injection code produce them; anything else that escapes is wrapped as
// Internal so the user still sees an actionable line.
package attacherr
