package harness

import (
	"context"
	"fmt"

	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/endpoint"
)

func init() { Open = open }

// open builds the target the options name, with ginkgo.yml's settings.
func open(ctx context.Context, o Options) (targets.Target, error) {
	path := o.ConfigPath
	if path == "" {
		path = FindConfig()
	}
	cfg, err := targets.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	switch o.Target {
	case targets.KindEmulator, "":
		return emulator.NewTarget(ctx, cfg)
	case targets.KindEndpoint:
		return endpoint.New(ctx, cfg, o.Endpoint, o.Region)
	case targets.KindAWS:
		return awstarget.New(ctx, cfg, o.Region, o.ConfirmAccount)
	}
	return nil, fmt.Errorf("unknown target %q (emulator, endpoint or aws)", o.Target)
}
