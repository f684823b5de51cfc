// Command sweep is the Lambda the sweep state machine calls: one page of the capture
// sweep.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iot-dr/iot-dr/functions/awsclients"
)

func main() {
	log := awsclients.Logger()
	p, err := awsclients.NewPipeline(context.Background(), log)
	if err != nil {
		log.Error("sweep cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(p.Sweep.Handle)
}
