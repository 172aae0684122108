// Package admin is a member's HTTP endpoint: /metrics, /healthz, /readyz,
// /status and the operator's signed POST /switchover, the signature that
// authenticates it (SignRequest, for the clients; VerifyRequest), and the
// server that serves an endpoint until its context ends (which `feedd
// audit` and the demo use for their metrics too).
//
// It asks the member what to answer through Handlers and never decides
// anything itself. It must never accept an operator request that is not
// signed with the pair's secret, and never send or log that secret.
package admin
