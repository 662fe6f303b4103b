package doctor

// Severity is a check finding's verdict. The JSON values are part of the
// `oactl migrate check --json` contract.
type Severity string

const (
	SeverityOK   Severity = "ok"
	SeverityWarn Severity = "warn"
	SeverityFail Severity = "fail"
)

// Finding is one verdict of the utf8mb4 doctor. FixSQL holds statements to
// run (one a line, each ending in ';'; lines starting with "--" are
// explanations); FixConfig holds the my.cnf / my.ini lines (or oactl
// settings) that make the fix survive a restart. Both are "" when there is
// nothing to fix.
type Finding struct {
	ID        string   `json:"id"`
	Status    Severity `json:"status"`
	Summary   string   `json:"summary"`
	Detail    string   `json:"detail"`
	FixSQL    string   `json:"fixSQL"`
	FixConfig string   `json:"fixConfig"`
}

// Report is the result of a check: findings in the order a DBA should read
// them (in particular, index length before the conversion it constrains).
type Report struct {
	Dialect  string    `json:"dialect"`
	Server   string    `json:"server"`
	Database string    `json:"database"`
	Findings []Finding `json:"findings"`
}

// Counts returns how many findings have each severity.
func (r *Report) Counts() map[Severity]int {
	c := map[Severity]int{SeverityOK: 0, SeverityWarn: 0, SeverityFail: 0}
	for _, f := range r.Findings {
		c[f.Status]++
	}
	return c
}

// Failed reports whether any finding failed: `migrate check` exits 3 then.
func (r *Report) Failed() bool { return r.Counts()[SeverityFail] > 0 }

// Find returns the finding with id, or nil.
func (r *Report) Find(id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }
