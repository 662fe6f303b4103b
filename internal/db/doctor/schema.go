package doctor

import (
	"fmt"
	"strings"

	"github.com/oactl/oactl/internal/db/migrate"
)

// checkSchema reports pending migration steps, and a schema newer than
// this binary (fine for serving, since a rolling deploy runs old binaries
// on a migrated database, but worth an upgrade).
func checkSchema(r *Report, st *migrate.Status) {
	if st == nil {
		return
	}
	var pending []string
	for _, s := range st.Pending() {
		pending = append(pending, fmt.Sprintf("%d %s", s.Version, s.Name))
	}
	f := Finding{ID: "schema.version", Detail: fmt.Sprintf("applied version %d, this binary's latest %d", st.Current, st.Required)}
	switch {
	case len(pending) > 0:
		f.Status = SeverityWarn
		f.Summary = fmt.Sprintf("%d migration step(s) pending: %s", len(pending), strings.Join(pending, ", "))
		f.FixSQL = "-- run: oactl migrate up"
	case st.Current > st.Required:
		f.Status = SeverityWarn
		f.Summary = fmt.Sprintf("the schema (version %d) is newer than this binary knows (%d): upgrade oactl", st.Current, st.Required)
	default:
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("the schema is at version %d, the latest", st.Current)
	}
	r.add(f)
}
