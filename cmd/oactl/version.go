package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Stamped by a release build (scripts/release):
//
//	-ldflags "-X main.version=v1.2.3 -X main.buildTime=2026-01-02T03:04:05Z"
//
// Otherwise they come from the build information Go records: the module's
// version (`go install ...@v1.2.3`) and the VCS revision and commit time
// of a build inside a checkout. commit may be stamped too, for a build
// from a source tree without .git.
var (
	version   = ""
	commit    = ""
	buildTime = ""
)

func init() {
	register(func(f *factory) *cobra.Command { return newVersionCmd(f, nil) })
}

// versionOptions is what `oactl version` prints; it has no settings.
type versionOptions struct {
	Info buildInfo
}

// buildInfo describes the running binary.
type buildInfo struct {
	Version  string // v1.2.3, a pseudo-version, or (devel)
	Commit   string // the VCS revision, or "unknown"
	Modified bool   // built from a checkout with uncommitted changes
	Built    string // the stamped build time, else the commit's time, else "unknown"
	Go       string // go1.26.8
	Platform string // linux/amd64
}

func newVersionCmd(f *factory, runF func(*versionOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print oactl's version, commit, build time and Go version (also oactl --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := &versionOptions{Info: readBuildInfo()}
			if runF != nil {
				return runF(o)
			}
			_, err := fmt.Fprint(f.io.Out, o.Info)
			return err
		},
	}
}

// String is the text of `oactl version` and `oactl --version`.
func (b buildInfo) String() string {
	c := b.Commit
	if b.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("oactl %s\ncommit:  %s\nbuilt:   %s\ngo:      %s %s\n", b.Version, c, b.Built, b.Go, b.Platform)
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Built: buildTime, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.Go = info.GoVersion
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		var vcsTime string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		if b.Built == "" && vcsTime != "" {
			b.Built = vcsTime + " (commit time)"
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Built == "" {
		b.Built = "unknown"
	}
	b.Version = strings.TrimSpace(b.Version)
	return b
}
