package constrain

import "sync"

// Formats enforced as built-in patterns. Each is the anchored grammar of
// the format, written so that what the matcher produces also parses with
// the usual libraries (time.Parse, net/mail): RFC 3339 dates check the days
// of each month, leap years included; times have seconds 00-59 (no leap
// second) and an upper-case T and Z. Any other format is an annotation and
// ignored, as JSON Schema allows.
var formatPatterns = map[string]string{
	"date":      `^` + datePat + `$`,
	"time":      `^` + timePat + `$`,
	"date-time": `^` + datePat + `T` + timePat + `$`,
	"uuid":      `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`,
	"email": `^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@` +
		`[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$`,
}

const (
	datePat = `(\d{4}-(0[13578]|1[02])-(0[1-9]|[12]\d|3[01])` +
		`|\d{4}-(0[469]|11)-(0[1-9]|[12]\d|30)` +
		`|\d{4}-02-(0[1-9]|1\d|2[0-8])` +
		`|(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)`
	timePat = `([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)`
)

// formatDFAs compiles the format patterns once per process: they are
// constants, and date-time takes a noticeable part of a millisecond.
var formatDFAs = sync.OnceValue(func() map[string]*dfa {
	m := make(map[string]*dfa, len(formatPatterns))
	for name, pat := range formatPatterns {
		d, err := compilePattern(pat)
		if err != nil {
			panic("constrain: built-in format " + name + ": " + err.Error()) // constant input
		}
		m[name] = d
	}
	return m
})
