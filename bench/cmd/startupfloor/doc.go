// Package startupfloor holds build variants that show what the plugin's
// dependencies cost in start-up time and binary size: each main does nothing
// but print its help, importing one more layer of the plugin's stack.
//
//	hello       the Go runtime alone
//	cobra       + github.com/spf13/cobra (the command tree)
//	cliruntime  + k8s.io/cli-runtime/pkg/genericclioptions (kubectl's flags)
//	clientgo    + k8s.io/client-go discovery and dynamic (what add and list use)
//	clientcmd   cobra + client-go clientcmd flags + dynamic, without cli-runtime:
//	            the floor if the plugin bound kubectl's flags itself
//	clientcmddisco   clientcmd + client-go discovery (imports client-go/kubernetes/scheme)
//	clientcmdrender  clientcmd + the plugin's pkg/render (Flux types, manifestgen, kustomize)
//
// The three clientcmd variants share their command, clientcmdfloor, which
// imports exactly what the clientcmd variant needs.
package startupfloor
