package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// report writes the run's report: the table of outcomes and latencies,
// then, fenced as plain text, the events, the fault's verdict, the
// database check and the result. It returns the report and its problems.
func (h *harness) report(ctx context.Context, all []sample, t tally, faultErr error) (string, []string, error) {
	rep := &strings.Builder{}
	procs := ""
	if len(h.serveAddrs) > 1 {
		procs = fmt.Sprintf(", %d serve processes (one per database node)", len(h.serveAddrs))
	}
	fmt.Fprintf(rep, "soak: %d users, %v, fault %s%s, serve --wx-timeout %v\n\n", h.o.users, h.o.duration, h.o.fault, procs, h.o.wxTimeout)
	table(rep, all, h.since())
	servesTable(rep, all, len(h.serveAddrs))
	// The rest is plain text: fenced, so the report pastes into markdown.
	fmt.Fprintf(rep, "\n```text")
	if len(h.events) > 0 {
		fmt.Fprintf(rep, "\nevents:\n")
		for _, e := range h.events {
			fmt.Fprintf(rep, "  %s\n", e)
		}
	}
	faultProblems := h.judge(rep, all)
	if faultErr != nil {
		faultProblems = append(faultProblems, faultErr.Error())
	}
	problems, err := check(ctx, rep, h.o.dsn, t)
	if err != nil {
		return "", nil, err
	}
	problems = append(problems, faultProblems...)
	for i := range h.serveAddrs {
		if n := grepPanics(h.serveLog(i)); n > 0 {
			problems = append(problems, fmt.Sprintf("%s has %d panic lines", filepath.Base(h.serveLog(i)), n))
		}
	}
	if len(problems) == 0 {
		fmt.Fprintf(rep, "\nresult: PASS\n")
	} else {
		fmt.Fprintf(rep, "\nresult: FAIL\n")
		for _, p := range problems {
			fmt.Fprintf(rep, "  - %s\n", p)
		}
	}
	fmt.Fprintf(rep, "```\n")
	return rep.String(), problems, nil
}
