// Command recheck is the Lambda the re-check state machine calls: one pass over a new
// thing's attachments.
package main

import "github.com/iot-dr/iot-dr/functions/awsclients"

func main() {
	awsclients.StartPipeline("recheck", func(p *awsclients.Pipeline) any { return p.Recheck.Handle })
}
