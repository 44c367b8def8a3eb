package localcluster

import (
	"encoding/base64"
	"fmt"
	"os"
)

// writeKubeconfig writes a self-contained kubeconfig (certificates embedded) with a
// single context named ContextName. It is written by hand rather than with
// client-go's clientcmd to keep this package's dependencies small.
func writeKubeconfig(path, serverURL string, caPEM []byte, user string, cert *keyPair) error {
	b64 := base64.StdEncoding.EncodeToString
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[4]q
  user:
    client-certificate-data: %[5]s
    client-key-data: %[6]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[4]q
current-context: %[1]s
`, ContextName, serverURL, b64(caPEM), user, b64(cert.certPEM), b64(cert.keyPEM))
	return os.WriteFile(path, []byte(content), 0o600)
}
