// Package localcluster starts a real, throw-away Kubernetes control plane on loopback for
// tests and demos: etcd and kube-apiserver (like controller-runtime's envtest),
// optionally kube-controller-manager, the Flux source-controller and
// kustomize-controller, and a git server serving a directory over HTTP.
//
// The binaries are built from Go modules by hack/build-tools.sh into _output/bin.
//
// All processes run in their own process group with their output in log files, and
// are stopped by (*Cluster).Stop. The Flux controllers are supervised: they exit while
// the Flux CRDs are missing (the plugin's bootstrap command installs them), so they
// are restarted with a short backoff until Stop is called.
package localcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubectl-tenant/kubectl-tenant/internal/fluxinstall"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const (
	// ModulePath is the root module; BinDir is found next to its go.mod.
	ModulePath = "github.com/kubectl-tenant/kubectl-tenant"
	// BinDirEnv overrides where the binaries are looked up.
	BinDirEnv = "KUBECTL_TENANT_BIN_DIR"
	// ContextName is the kubeconfig context name of every generated kubeconfig.
	ContextName = "local"
	// FluxNamespace is the RUNTIME_NAMESPACE of the Flux controllers.
	FluxNamespace = "flux-system"

	serviceClusterIPRange = "10.0.0.0/24"
	// readyTimeout bounds each readiness wait unless ctx has an earlier deadline.
	readyTimeout = 60 * time.Second
)

// Binary names expected in the bin directory.
const (
	binEtcd                  = "etcd"
	binKubeAPIServer         = "kube-apiserver"
	binKubeControllerManager = "kube-controller-manager"
	binSourceController      = "source-controller"
	binKustomizeController   = "kustomize-controller"
)

// Options configures Start. The zero value starts etcd and kube-apiserver only.
type Options struct {
	// BinDir holds the binaries. Default: $KUBECTL_TENANT_BIN_DIR, else _output/bin in
	// the root of the module github.com/kubectl-tenant/kubectl-tenant, found by walking
	// up from the working directory.
	BinDir string
	// ControllerManager starts kube-controller-manager with the namespace,
	// serviceaccount, garbage collector, clusterrole aggregation and resource quota
	// controllers, so namespaces get a default ServiceAccount and can be deleted,
	// Flux's flux-edit role reaches admin, and a tenant's ResourceQuota is counted
	// (without its status, quota admission refuses every object it covers).
	ControllerManager bool
	// Flux starts source-controller and kustomize-controller (supervised; see the
	// package documentation). The Flux CRDs and namespace are not installed.
	Flux bool
	// FluxLockdown runs the controllers with the flags `kubectl tenant
	// bootstrap --lockdown` renders onto their Deployments (Flux's three
	// lockdown flags). Implies Flux.
	FluxLockdown bool
	// GitRepoDir, if set, is committed to a git repository served over HTTP on
	// loopback; see GitURL and GitCommit.
	GitRepoDir string
	// GitRepoSubdir places the contents of GitRepoDir under this slash-separated path
	// inside the repository instead of at its root.
	GitRepoSubdir string
	// LogDir receives one log file per process. Default: a "logs" directory in the
	// cluster's temporary directory.
	LogDir string
	// Verbose also copies all process output to stderr.
	Verbose bool
	// Keep leaves the temporary directory (data, certificates, logs) in place after Stop.
	Keep bool
}

// Cluster is a running local control plane. Its methods are safe for concurrent use.
type Cluster struct {
	opts       Options
	dir        string // temporary root directory
	binDir     string
	logDir     string
	pkiDir     string
	ca         *certAuthority
	serverURL  string
	kubeconfig string
	restConfig *rest.Config
	processes  []*process // in start order
	admin      *keyPair   // the system:masters client certificate
	git        *gitServer
	startedIn  time.Duration

	userMu   sync.Mutex // serializes UserKubeconfig file writes
	apiMu    sync.Mutex // serializes StopAPIServer and StartAPIServer
	stopOnce sync.Once
	stopErr  error
}

// Start starts the cluster and waits until it is ready. ctx bounds the start-up only:
// the processes keep running until Stop. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	begin := time.Now()
	if opts.FluxLockdown {
		opts.Flux = true
	}
	binDir, err := resolveBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if err := checkBinaries(binDir, requiredBinaries(opts)); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubectl-tenant-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		opts:   opts,
		dir:    dir,
		binDir: binDir,
		logDir: opts.LogDir,
		pkiDir: filepath.Join(dir, "pki"),
	}
	if c.logDir == "" {
		c.logDir = filepath.Join(dir, "logs")
	}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	c.startedIn = time.Since(begin)
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	for _, d := range []string{c.logDir, c.pkiDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The git server does not depend on the control plane; start it first so a
	// failure (e.g. git missing) is reported before the slower steps.
	if c.opts.GitRepoDir != "" {
		git, err := startGitServer(filepath.Join(c.dir, "git"), c.opts.GitRepoDir, c.opts.GitRepoSubdir)
		if err != nil {
			return err
		}
		c.git = git
	}
	if err := c.writePKI(); err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	etcdURL, err := c.startEtcd(ctx, ports[0])
	if err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, ports[1], etcdURL); err != nil {
		return err
	}
	if c.opts.ControllerManager {
		if err := c.startControllerManager(); err != nil {
			return err
		}
	}
	if c.opts.Flux {
		if err := c.startFlux(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) writePKI() error {
	ca, err := newCertAuthority()
	if err != nil {
		return err
	}
	c.ca = ca
	serving, err := ca.servingCert("127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	if err != nil {
		return err
	}
	if err := serving.write(c.pki("apiserver.crt"), c.pki("apiserver.key")); err != nil {
		return err
	}
	if err := os.WriteFile(c.pki("ca.crt"), ca.certPEM, 0o600); err != nil {
		return err
	}
	return writeServiceAccountKey(c.pki("sa.key"), c.pki("sa.pub"))
}

func (c *Cluster) pki(name string) string { return filepath.Join(c.pkiDir, name) }

func (c *Cluster) startEtcd(ctx context.Context, clientPort int) (string, error) {
	peerPort, err := freePorts(1)
	if err != nil {
		return "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	p, err := c.run(binEtcd, false, nil,
		"--name=default",
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", peerPort[0]),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", peerPort[0]),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", peerPort[0]),
		// Data is thrown away; skipping fsync makes start-up and tests much faster.
		"--unsafe-no-fsync=true",
	)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: time.Second}
	err = waitReady(ctx, p, func() error {
		resp, err := client.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"health":"true"`) {
			return fmt.Errorf("etcd not healthy: %s", body)
		}
		return nil
	})
	return clientURL, err
}

func (c *Cluster) startAPIServer(ctx context.Context, port int, etcdURL string) error {
	c.serverURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + c.pkiDir,
		"--tls-cert-file=" + c.pki("apiserver.crt"),
		"--tls-private-key-file=" + c.pki("apiserver.key"),
		"--client-ca-file=" + c.pki("ca.crt"),
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--service-account-issuer=" + c.serverURL + "/",
		"--service-account-key-file=" + c.pki("sa.pub"),
		"--service-account-signing-key-file=" + c.pki("sa.key"),
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
	}
	if !c.opts.ControllerManager {
		// As in envtest: without the serviceaccount controller no namespace gets a
		// default ServiceAccount, and the admission plugin would then reject pods.
		args = append(args, "--disable-admission-plugins=ServiceAccount")
	}
	p, err := c.run(binKubeAPIServer, false, nil, args...)
	if err != nil {
		return err
	}

	admin, err := c.ca.clientCert("admin", "system:masters")
	if err != nil {
		return err
	}
	c.admin = admin
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := writeKubeconfig(c.kubeconfig, c.serverURL, c.ca.certPEM, "admin", admin); err != nil {
		return err
	}
	c.restConfig = &rest.Config{
		Host: c.serverURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.ca.certPEM,
			CertData: admin.certPEM,
			KeyData:  admin.keyPEM,
		},
		QPS:   100,
		Burst: 200,
	}

	return c.waitAPIServerReady(ctx, p)
}

func (c *Cluster) waitAPIServerReady(ctx context.Context, p *process) error {
	client, err := c.adminHTTPClient(c.admin)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	return waitReady(ctx, p, func() error {
		resp, err := client.Get(c.serverURL + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("readyz: %s: %s", resp.Status, body)
		}
		return nil
	})
}

func (c *Cluster) adminHTTPClient(admin *keyPair) (*http.Client, error) {
	cert, err := tls.X509KeyPair(admin.certPEM, admin.keyPEM)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.ca.cert)
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      roots,
			Certificates: []tls.Certificate{cert},
		}},
	}, nil
}

func (c *Cluster) startControllerManager() error {
	_, err := c.run(binKubeControllerManager, false, nil,
		"--kubeconfig="+c.kubeconfig,
		"--leader-elect=false",
		"--controllers=namespace-controller,serviceaccount-controller,garbage-collector-controller,clusterrole-aggregation-controller,resourcequota-controller",
		// The quota controller watches a CRD created after it started (Flux's,
		// by bootstrap) within 30 s, but counts existing quotas again only at
		// this resync; the default of 5 m would hold a tenant's first
		// Kustomization under a quota on Flux objects back that long.
		"--resource-quota-sync-period=10s",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+c.pki("sa.key"),
		"--root-ca-file="+c.pki("ca.crt"),
	)
	// No readiness check: the controllers work asynchronously and callers wait for
	// the effects they need (e.g. a default ServiceAccount).
	return err
}

func (c *Cluster) startFlux() error {
	// source-controller: storage, storage, metrics, health; kustomize-controller: metrics, health.
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	storage := filepath.Join(c.dir, "source-controller-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return err
	}
	rendered, err := FluxControllerArgs(c.opts.FluxLockdown)
	if err != nil {
		return err
	}
	env := map[string]string{"KUBECONFIG": c.kubeconfig, "RUNTIME_NAMESPACE": FluxNamespace}
	storageAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if _, err := c.run(binSourceController, true, env, localArgs(rendered[binSourceController],
		"--storage-path="+storage,
		"--storage-addr="+storageAddr,
		// kustomize-controller downloads artifacts from this address.
		"--storage-adv-addr="+storageAddr,
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[2]),
	)...); err != nil {
		return err
	}
	// kustomize-controller removes every kustomization-* directory in its
	// TMPDIR when it starts, as leftovers of its own last run; on a machine
	// that runs several clusters (the e2e tests, a benchmark) that is
	// another controller's build in progress, which then fails with
	// "lstat /tmp/kustomization-...: no such file or directory". Each
	// cluster's controller gets a TMPDIR of its own.
	tmp := filepath.Join(c.dir, "kustomize-controller-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	kustomizeEnv := map[string]string{"TMPDIR": tmp}
	maps.Copy(kustomizeEnv, env)
	_, err = c.run(binKustomizeController, true, kustomizeEnv, localArgs(rendered[binKustomizeController],
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[3]),
		fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[4]),
	)...)
	return err
}

// FluxControllerArgs are the manager containers' args of Flux's default
// controllers as `kubectl tenant bootstrap` (with --lockdown when lockdown)
// renders them from the local release bundle, by controller name. The
// harness runs the controllers with them, so its tests prove what users
// install.
func FluxControllerArgs(lockdown bool) (map[string][]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	o := render.DefaultBootstrapOptions()
	o.Lockdown = lockdown
	// The source is not among the Deployments; any valid URL renders.
	o.GitURL = "https://git.invalid/tenants.git"
	install, err := fluxinstall.Generate(o.InstallOptions(), filepath.Join(root, "_output", "flux-manifests", render.DefaultFluxVersion))
	if err != nil {
		return nil, fmt.Errorf("%w (run hack/build-tools.sh or make tools)", err)
	}
	b, err := render.RenderBootstrap(o, install)
	if err != nil {
		return nil, err
	}
	args := map[string][]string{}
	for _, obj := range b.Install {
		if obj.GetKind() != "Deployment" {
			continue
		}
		args[obj.GetName()] = render.ManagerArgs(obj)
	}
	return args, nil
}

// localArgs keeps a controller's rendered args but for those that name the
// in-cluster network, files and leader election, which a process on
// loopback sets itself (overrides), and the event address of a
// notification-controller the harness does not run.
func localArgs(rendered []string, overrides ...string) []string {
	replaced := []string{"--events-addr", "--enable-leader-election"}
	for _, o := range overrides {
		name, _, _ := strings.Cut(o, "=")
		replaced = append(replaced, name)
	}
	var out []string
	for _, a := range rendered {
		name, _, _ := strings.Cut(a, "=")
		if !slices.Contains(replaced, name) {
			out = append(out, a)
		}
	}
	return append(append(out, "--enable-leader-election=false"), overrides...)
}

// run starts a binary from the bin directory with its output in <logDir>/<name>.log.
func (c *Cluster) run(name string, supervised bool, env map[string]string, args ...string) (*process, error) {
	p := &process{
		name:       name,
		path:       filepath.Join(c.binDir, name),
		args:       args,
		logPath:    filepath.Join(c.logDir, name+".log"),
		supervised: supervised,
	}
	if env != nil {
		p.env = environ(env)
	}
	if c.opts.Verbose {
		p.mirror = &prefixWriter{prefix: name + ": ", out: os.Stderr}
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	c.processes = append(c.processes, p)
	return p, nil
}

// waitReady polls check until it succeeds, the process exits or the wait times out.
func waitReady(ctx context.Context, p *process, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		lastErr := check()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.exited():
			return p.failure()
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v; log: %s)\n%s",
				p.name, ctx.Err(), lastErr, p.logPath, tailFile(p.logPath, 30))
		case <-ticker.C:
		}
	}
}

// Stop stops all processes (last started first) and the git server, and removes the
// temporary directory unless Options.Keep is set. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var wg sync.WaitGroup
		// Controllers only talk to the apiserver, so they can go down together.
		for i := len(c.processes) - 1; i >= 0; i-- {
			p := c.processes[i]
			if p.name == binKubeAPIServer || p.name == binEtcd {
				continue
			}
			wg.Go(p.stop)
		}
		wg.Wait()
		for i := len(c.processes) - 1; i >= 0; i-- {
			if p := c.processes[i]; p.name == binKubeAPIServer || p.name == binEtcd {
				p.stop()
			}
		}
		if c.git != nil {
			c.git.stop()
		}
		if !c.opts.Keep {
			c.stopErr = os.RemoveAll(c.dir)
		}
	})
	return c.stopErr
}

// StopAPIServer stops kube-apiserver as an operator or a crash would take it
// away: SIGTERM, then SIGKILL after a grace period. etcd, the controllers and
// the git server keep running; StartAPIServer brings it back.
func (c *Cluster) StopAPIServer() error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	p := c.apiServerProcess()
	if p == nil {
		return fmt.Errorf("no %s in this cluster", binKubeAPIServer)
	}
	p.stop()
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the same
// port, flags and certificates, and waits until it is ready.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	p := c.apiServerProcess()
	if p == nil {
		return fmt.Errorf("no %s in this cluster", binKubeAPIServer)
	}
	select {
	case <-p.exited():
	default:
		return fmt.Errorf("%s is still running", binKubeAPIServer)
	}
	if err := p.restart(); err != nil {
		return err
	}
	return c.waitAPIServerReady(ctx, p)
}

func (c *Cluster) apiServerProcess() *process {
	for _, p := range c.processes {
		if p.name == binKubeAPIServer {
			return p
		}
	}
	return nil
}

// Kubeconfig is the path of an admin (system:masters) kubeconfig with context "local".
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig returns a new admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// ServerURL is the apiserver URL, e.g. https://127.0.0.1:34567.
func (c *Cluster) ServerURL() string { return c.serverURL }

// Dir is the cluster's temporary directory (data, certificates, default log dir).
func (c *Cluster) Dir() string { return c.dir }

// LogDir is the directory holding one <binary>.log file per process.
func (c *Cluster) LogDir() string { return c.logDir }

// StartupDuration is how long Start took.
func (c *Cluster) StartupDuration() time.Duration { return c.startedIn }

// UserKubeconfig writes a kubeconfig (context "local") that authenticates as user with
// the given groups by client certificate, and returns its path. The user has no
// permissions until RBAC grants some.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, error) {
	if user == "" {
		return "", errors.New("UserKubeconfig: empty user name")
	}
	cert, err := c.ca.clientCert(user, groups...)
	if err != nil {
		return "", err
	}
	c.userMu.Lock()
	defer c.userMu.Unlock()
	dir := filepath.Join(c.dir, "users")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, sanitizeFileName(user)+".kubeconfig")
	if err := writeKubeconfig(path, c.serverURL, c.ca.certPEM, user, cert); err != nil {
		return "", err
	}
	return path, nil
}

// GitURL is the HTTP clone URL of the served repository, or "" without GitRepoDir.
func (c *Cluster) GitURL() string {
	if c.git == nil {
		return ""
	}
	return c.git.url
}

// GitCommit adds or overwrites files (slash-separated paths relative to the repository
// root; a nil value deletes the file) in the served repository, commits them on main
// and returns the new revision (commit SHA).
func (c *Cluster) GitCommit(files map[string][]byte, message string) (string, error) {
	if c.git == nil {
		return "", errors.New("GitCommit: the cluster was started without GitRepoDir")
	}
	return c.git.commit(files, message)
}

func requiredBinaries(opts Options) []string {
	bins := []string{binEtcd, binKubeAPIServer}
	if opts.ControllerManager {
		bins = append(bins, binKubeControllerManager)
	}
	if opts.Flux {
		bins = append(bins, binSourceController, binKustomizeController)
	}
	return bins
}

func checkBinaries(binDir string, names []string) error {
	var missing []string
	for _, name := range names {
		info, err := os.Stat(filepath.Join(binDir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cluster: missing binaries in %s: %s; build them with hack/build-tools.sh (or make tools)",
			binDir, strings.Join(missing, ", "))
	}
	return nil
}

// resolveBinDir applies the BinDir defaulting documented on Options.
func resolveBinDir(explicit string) (string, error) {
	if explicit != "" {
		return filepath.Abs(explicit)
	}
	if env := os.Getenv(BinDirEnv); env != "" {
		return filepath.Abs(env)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "_output", "bin"), nil
}

// ModuleRoot returns the directory of the go.mod of ModulePath, found by walking up
// from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cluster: no go.mod of module %s above the working directory; set %s or Options.BinDir", ModulePath, BinDirEnv)
		}
		dir = parent
	}
}

// modulePathOf returns the module path declared in a go.mod file, or "".
func modulePathOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(scanner.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

func sanitizeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// prefixWriter prefixes each line written to out, for Verbose output of several
// processes interleaved on stderr. Writes of partial lines are prefixed as they come.
type prefixWriter struct {
	prefix string
	out    io.Writer
	mu     sync.Mutex
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w.out, w.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
