// Command redrive is the scheduled Lambda that re-runs what the error table holds.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/redrive"
)

func main() {
	log := awsclients.Logger()
	p, err := awsclients.NewPipeline(context.Background(), log)
	if err != nil {
		log.Error("redrive cannot start", "error", err)
		os.Exit(1)
	}
	h := &redrive.Handler{Failures: p.Failures, Capture: p.Capturer, Apply: p.Applier,
		Items: p.Applier.Store, Region: p.Region, Logger: log}
	lambda.Start(h.Handle)
}
