// Command capture is the Lambda the capture rules invoke: it writes the changed
// resource's state item.
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
		log.Error("capture cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(p.Capture.Handle)
}
