// Command clientcmd is the start-up floor of the plugin's stack without
// k8s.io/cli-runtime: kubectl's connection flags bound by client-go's
// clientcmd, and the dynamic client; see ../doc.go.
package main

import "github.com/kubectl-tenant/kubectl-tenant/bench/cmd/startupfloor/clientcmdfloor"

func main() { clientcmdfloor.Run(nil) }
