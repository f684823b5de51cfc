// Package fleet simulates a fleet of IoT devices for failover drills: each
// device is an MQTT 3.1.1 client (this package's own, lean: mqtt.go) with its own
// thing name and X.509 certificate that connects to the custom domain over mutual
// TLS, publishes telemetry and reports shadow state, and reconnects on its own
// with capped exponential backoff and full jitter, resolving the domain again
// before every attempt, as the devices of a real fleet are expected to.
//
// # Behaviour of one device
//
//   - Every connection attempt resolves Options.Domain through
//     Options.Resolver (whose cache honours the DNS TTL), dials ip:Port and
//     verifies the server certificate against Options.Roots for the domain
//     name (ServerName = Domain, which is also sent as SNI unless
//     Device.WithoutSNI), presenting the device certificate. The
//     MQTT client ID is the thing name; sessions are clean. At most four
//     attempts per core of the process are between dial and CONNACK at once
//     (maxHandshakes): the others wait for the CPU, as devices with a CPU of
//     their own would not need to, rather than all time out together.
//   - After CONNACK the device subscribes (QoS 1) to
//     $aws/things/<thing>/shadow/update/accepted, which exercises the
//     broker's Subscribe and Receive authorisation, and behind the SUBSCRIBE
//     on the same connection publishes telemetry to spec.TelemetryTopic(thing)
//     at once and then every TelemetryEvery and, when
//     ShadowEvery > 0, {"state":{"reported":{"seq":n}}} to
//     $aws/things/<thing>/shadow/update, both at QoS 1. Each device's
//     schedule starts at a random phase so publishes are spread over the
//     interval rather than arriving in bursts.
//   - A publish is delivered when its PUBACK arrives. A device has one
//     publish in flight at a time; up to four scheduled messages wait behind
//     it. A message that finds that queue full, any scheduled message while
//     the device is disconnected, and a publish whose connection ends before
//     its PUBACK all count as publish failures. Nothing is kept for a later
//     connection: an offline device loses the message, as a device without
//     local buffering would, so delivery is at most once per message.
//   - Connection loss is seen at once when the broker closes the TCP
//     connection (broker.SetDown) and otherwise by MQTT keep-alive
//     (Options.KeepAlive, 2 s by default: a PINGREQ after a keep-alive without
//     a packet sent or received, the connection given up when a second one
//     passes without an answer). After a loss, a refused CONNECT
//     or a failed dial (a throttled CONNECT is a connection closed before
//     its CONNACK) the device sleeps rand[0, min(Cap, Base*2^n)) (full
//     jitter, n the number of consecutive failures) and tries again; n resets
//     after a successful CONNECT. So a device holding a certificate that only a CA
//     registered for just-in-time provisioning knows (pki.CA.IssueDeviceFor; with
//     WithoutSNI, pki.Device.WithCA to present the CA too) onboards on its own: the
//     broker closes its first connection after provisioning it, and it retries.
//
// # Observability
//
// Each device keeps a bounded timeline (the most recent 256 events) of
// resolves, connections, disconnections, refusals, failed attempts and the
// first acknowledged publish of each connection, with the Region the
// resolved IP belongs to (Options.Regions). Fleet-wide counters are in
// Stats. WaitConnected blocks until enough devices are connected, woken by
// timeline events; Wait does the same for any condition and also re-checks
// it every 50 ms, for conditions on Stats.
//
// # Cost
//
// A device is one goroutine, connected or not: it writes its packets itself and
// reads with a deadline at the next thing it has to do (a scheduled publish, a
// keep-alive), so a lost connection is noticed as soon as the read fails. The
// simulated broker (mochi-mqtt) adds two per connection. BenchmarkFleetConnect
// measures a connected device, both ends in one process, at about 55 KB: 29 KB of
// goroutine stacks (the device's and mochi's two) and 25 KB of heap, most of it TLS
// (record buffers, AES-GCM state, the peer certificate each end parses) and mochi's
// client. With paho it was 103 KB: 14 goroutines, 60 KB of stacks. With Start
// both ends of every connection live in this process, so N devices need 2N file
// descriptors (RLIMIT_NOFILE).
//
// # Child processes
//
// StartProcesses runs the same devices in worker processes (ServeWorker, behind the
// hidden `iotdr fleet` subcommand or a test binary's TestMain when WorkerEnv is set),
// PerProcess devices each, and mirrors their timelines and counters from the JSON
// lines they stream. The brokers stay in the caller's process, which then holds one
// descriptor per device. A worker reads its devices from stdin and exits when stdin
// closes (Stop, or the parent's death); on Linux it is also in its own process
// group, away from a terminal's Ctrl-C, and killed by the kernel (Pdeathsig) if the
// parent dies. A worker that ends before Stop takes its devices with it: each gets a
// KindLost event, Stats.DevicesLost counts them, and WaitConnected fails at once
// when the devices left cannot reach its count.
//
// # Not modelled
//
// Persistent sessions and offline queueing, TLS session resumption, MQTT 5,
// MQTT over WebSocket, ALPN on port 443, device-side clock skew, and any
// device logic beyond connect/publish/report. This package is for the
// simulator, tests and drills, never for production devices.
package fleet
