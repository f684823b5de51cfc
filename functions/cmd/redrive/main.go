// Command redrive is the scheduled Lambda that re-runs what the error table holds.
package main

import (
	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/redrive"
)

func main() {
	awsclients.StartPipeline("redrive", func(p *awsclients.Pipeline) any {
		return (&redrive.Handler{Failures: p.Failures, Capture: p.Capturer, Apply: p.Applier,
			Items: p.Applier.Store, Region: p.Region, Logger: p.Capturer.Logger}).Handle
	})
}
