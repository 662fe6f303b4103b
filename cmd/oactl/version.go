package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build information.
var version = ""

func init() {
	register(func(f *factory) *cobra.Command { return newVersionCmd(f, nil) })
}

// versionOptions is what `oactl version` prints; it has no settings.
type versionOptions struct {
	Version string
}

func newVersionCmd(f *factory, runF func(*versionOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print oactl's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := &versionOptions{Version: buildVersion()}
			if runF != nil {
				return runF(o)
			}
			return runVersion(f.io, o)
		},
	}
}

func runVersion(s *stdio, o *versionOptions) error {
	_, err := fmt.Fprintln(s.Out, "oactl", o.Version)
	return err
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
