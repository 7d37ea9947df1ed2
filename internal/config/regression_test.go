package config

import (
	"flag"
	"io"
	"testing"
)

func TestRegressionEmptyPurgeAllow(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := Load(fs, []string{"--origin", "http://o", "--purge-allow="}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PurgeAllow == nil {
		t.Errorf("--purge-allow= gives a nil list, which proxy.Options reads as 'loopback allowed'")
	}
}
