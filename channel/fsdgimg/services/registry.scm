;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services registry)
  #:use-module (fsdgimg packages registry)
  #:use-module (fsdgimg services validation)
  #:use-module (gnu home services)
  #:use-module (gnu home services shepherd)
  #:use-module (gnu packages admin)
  #:use-module (gnu services)
  #:use-module (gnu services configuration)
  #:use-module (gnu services shepherd)
  #:use-module (gnu system shadow)
  #:use-module (guix diagnostics)
  #:use-module (guix gexp)
  #:use-module (guix i18n)
  #:use-module (guix records)
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  #:use-module (srfi srfi-1)
  #:export (registry-configuration registry-configuration?
            registry-configuration-package
            registry-configuration-address
            registry-configuration-storage-root
            registry-configuration-log-level
            registry-configuration-delete?
            registry-configuration-read-only?
            registry-configuration-htpasswd-file
            registry-configuration-htpasswd-realm
            registry-configuration-health-check-interval
            registry-configuration-health-check-threshold
            registry-configuration-user
            registry-configuration-group
            registry-configuration-environment-variables
            registry-configuration-debug-address
            registry-configuration-log-file
            home-registry-configuration
            home-registry-configuration?
            registry-configuration->yaml
            registry-configuration-file
            registry-service-type
            home-registry-service-type))

;;; Commentary:
;;;
;;; Services running the CNCF Distribution registry ('registry serve'), on
;;; Guix System and in Guix Home.  The configuration record is serialized to
;;; Distribution's 'config.yml'.
;;;
;;; Code:

(define %default-storage-root
  "/var/lib/registry")

(define (log-level? value)
  (memq value
        '(error warn info debug)))

(define (address-port address)
  "Return the port of ADDRESS, \"HOST:PORT\", \"[IPV6]:PORT\" or \":PORT\", as
a number, or #f if ADDRESS has no such shape."
  (and (string? address)
       (and=> (string-match
               "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]*):([0-9]{1,5})$" address)
              (lambda (m)
                (string->number (match:substring m 2))))))

(define (check-address field value location)
  (let ((port (address-port value)))
    (if (and port
             (<= 1 port 65535)) value
        (located-error location
                       (formatted-message (G_
                                           "~a: ~s: expected HOST:PORT with a port between 1 and 65535")
                                          field value)))))

(define (check-maybe-address field value location)
  (if (maybe-value-set? value)
      (check-address field value location) value))

(define (check-maybe-absolute-file field value location)
  (cond
    ((not (maybe-value-set? value))
     value)
    ((and (string? value)
          (absolute-file-name? value))
     value)
    (else (located-error location
                         (formatted-message (G_
                                             "~a: ~s: expected an absolute file name")
                                            field value)))))

(define-located-sanitizer sanitize-address address check-address)
(define-located-sanitizer sanitize-debug-address debug-address
                          check-maybe-address)
(define-located-sanitizer sanitize-storage-root storage-root
                          check-maybe-absolute-file)
(define-located-sanitizer sanitize-htpasswd-file htpasswd-file
                          check-maybe-absolute-file)

(define-maybe/no-serialization string)

(define-configuration registry-configuration
  (package
    (file-like distribution-registry)
    "The package providing the @command{registry} command.")
  (address (string "127.0.0.1:5000")
   "The address, @var{host}:@var{port}, the registry listens on
(@code{http.addr}).  Put a TLS-terminating web server in front of it to serve
other hosts."
   (sanitizer sanitize-address))
  (storage-root maybe-string
   "The directory holding the registry's blobs and repositories
(@code{storage.filesystem.rootdirectory}).  When unset, it is
@file{/var/lib/registry} for the system service and
@file{$XDG_DATA_HOME/registry} for the Guix Home service.  An absolute file
name."
   (sanitizer sanitize-storage-root))
  (log-level (log-level 'info)
   "How verbose the registry log is: one of @code{error}, @code{warn},
@code{info} or @code{debug}.")
  (delete? (boolean #f) "Whether clients may delete blobs and manifests
(@code{storage.delete.enabled}).")
  (read-only? (boolean #f)
   "Whether the registry is in read-only maintenance mode, refusing every
push (@code{storage.maintenance.readonly.enabled}).")
  (htpasswd-file maybe-string
   "The file name of an Apache @file{htpasswd} file, with bcrypt hashes, of
the users allowed to use the registry.  When unset, the registry asks for no
authentication.  It is a file name, not a file-like object, so that the
password hashes stay out of the world-readable store."
   (sanitizer sanitize-htpasswd-file))
  (htpasswd-realm (string "fsdgimg-registry")
   "The HTTP basic authentication realm, used with @code{htpasswd-file}.")
  (health-check-interval (string "10s")
   "How often the registry checks that its storage works, as a Go duration.
@code{GET /debug/health} on the @code{debug-address} reports the result.")
  (health-check-threshold (integer 3)
   "How many failed storage checks in a row make the registry unhealthy.")
  (debug-address maybe-string
   "The address, @var{host}:@var{port}, of the registry's debug server
(@code{http.debug.addr}): @code{/debug/health} reports the storage health
checks, @code{/metrics} the Prometheus metrics.  Keep it on loopback.  When
unset, there is no debug server."
   (sanitizer sanitize-debug-address))
  (log-file (string "/var/log/registry.log")
   "Where the system service's output goes.  In a container image, use
@file{/dev/stdout}: the container's own output.")
  (user (string "registry")
        "The unprivileged user the system service runs as.")
  (group (string "registry") "The group the system service runs as.")
  (environment-variables (list-of-strings '("OTEL_TRACES_EXPORTER=none"))
   "Environment variables of the @command{registry} process, as
@code{\"NAME=VALUE\"} strings.  The default turns off the OpenTelemetry trace
exporter, which would otherwise try to reach a collector on
@code{localhost:4318}.")
  (no-serialization))

;; The Guix Home service's configuration: the same settings, without those
;; of a system service (its user, group and log file).
(define-configuration home-registry-configuration
  (package
    (file-like distribution-registry)
    "The package providing the @command{registry} command.")
  (address (string "127.0.0.1:5000")
           "The address, @var{host}:@var{port}, the registry listens on."
           (sanitizer sanitize-address))
  (storage-root maybe-string
   "The directory holding the registry's data, an absolute file name; by
default @file{$XDG_DATA_HOME/registry}."
   (sanitizer sanitize-storage-root))
  (log-level (log-level 'info)
             "One of @code{error}, @code{warn}, @code{info} or @code{debug}.")
  (delete? (boolean #f) "Whether clients may delete blobs and manifests.")
  (read-only? (boolean #f) "Whether the registry refuses every push.")
  (htpasswd-file maybe-string
   "The absolute file name of an @file{htpasswd} file of the allowed users."
   (sanitizer sanitize-htpasswd-file))
  (htpasswd-realm (string "fsdgimg-registry")
                  "The HTTP basic authentication realm.")
  (health-check-interval (string "10s")
   "How often the storage is checked, as a Go duration.")
  (health-check-threshold (integer 3)
   "How many failed storage checks in a row make the registry unhealthy.")
  (debug-address maybe-string
   "The address of the debug server (@code{/debug/health}, @code{/metrics}),
or unset for none."
   (sanitizer sanitize-debug-address))
  (environment-variables (list-of-strings '("OTEL_TRACES_EXPORTER=none"))
   "Environment variables of the @command{registry} process.")
  (no-serialization))

(define (home->registry-configuration config)
  "Return the registry-configuration with the settings of CONFIG, a
home-registry-configuration."
  (match-record config <home-registry-configuration>
    (package
      address
      storage-root
      log-level
      delete?
      read-only?
      htpasswd-file
      htpasswd-realm
      health-check-interval
      health-check-threshold
      debug-address
      environment-variables)
    (registry-configuration (package
                              package)
                            (address address)
                            (storage-root storage-root)
                            (log-level log-level)
                            (delete? delete?)
                            (read-only? read-only?)
                            (htpasswd-file htpasswd-file)
                            (htpasswd-realm htpasswd-realm)
                            (health-check-interval health-check-interval)
                            (health-check-threshold health-check-threshold)
                            (debug-address debug-address)
                            (environment-variables environment-variables))))

;;;
;;; config.yml.
;;;

(define %newline
  (string #\newline))

(define (char->yaml char)
  "Return CHAR as it is written in a double-quoted YAML scalar."
  (case char
    ((#\")
     "\\\"")
    ((#\\)
     "\\\\")
    ((#\newline)
     "\\n")
    (else (string char))))

(define (yaml-scalar value)
  "Return VALUE, a string, symbol, number or boolean, as YAML text."
  (cond
    ((eq? value #t)
     "true")
    ((eq? value #f)
     "false")
    ((number? value)
     (number->string value))
    ((symbol? value)
     (yaml-scalar (symbol->string value)))
    ;; A double-quoted scalar is never read as a number, boolean or null.
    (else (string-append "\""
                         (string-concatenate (map char->yaml
                                                  (string->list value))) "\""))))

;; A YAML document is a list of entries: (KEY . SCALAR), (KEY . ENTRIES) for
;; a mapping or (KEY . #(SCALAR ...)) for a flow sequence.
(define (entry key value)
  (cons key value))

(define (section key . entries)
  (cons key entries))

(define (flow-sequence key . items)
  (cons key
        (list->vector items)))

(define (entries->yaml entries indent)
  "Return the YAML text of ENTRIES, indented by INDENT spaces."
  (define margin
    (make-string indent #\space))
  (define (entry->yaml entry)
    (let ((key (car entry))
          (value (cdr entry)))
      (cond
        ((vector? value)
         (string-append margin
                        key
                        ": ["
                        (string-join (map yaml-scalar
                                          (vector->list value)) ", ")
                        "]"
                        %newline))
        ((list? value)
         (string-append margin key ":" %newline
                        (entries->yaml value
                                       (+ indent 2))))
        (else (string-append margin key ": "
                             (yaml-scalar value) %newline)))))
  (string-concatenate (map entry->yaml entries)))

(define (registry-yaml-entries config root)
  "Return the YAML entries of the config.yml of CONFIG, with ROOT as its
storage directory."
  (match-record config <registry-configuration>
    (address log-level
             debug-address
             delete?
             read-only?
             htpasswd-file
             htpasswd-realm
             health-check-interval
             health-check-threshold)
    (define auth
      (if (maybe-value-set? htpasswd-file)
          (list (section "auth"
                         (section "htpasswd"
                                  (entry "realm" htpasswd-realm)
                                  (entry "path" htpasswd-file))))
          '()))
    (cons* (entry "version" "0.1")
           (section "log"
                    (entry "level" log-level)
                    (section "fields"
                             (entry "service" "registry")))
           (section "storage"
                    (section "filesystem"
                             (entry "rootdirectory" root))
                    (section "delete"
                             (entry "enabled" delete?))
                    (section "maintenance"
                             (section "readonly"
                                      (entry "enabled" read-only?))))
           (apply section "http"
                  (entry "addr" address)
                  (section "headers"
                           (flow-sequence "X-Content-Type-Options" "nosniff"))
                  (if (maybe-value-set? debug-address)
                      (list (section "debug"
                                     (entry "addr" debug-address)
                                     (section "prometheus"
                                              (entry "enabled" #t)
                                              (entry "path" "/metrics"))))
                      '()))
           (section "health"
                    (section "storagedriver"
                             (entry "enabled" #t)
                             (entry "interval" health-check-interval)
                             (entry "threshold" health-check-threshold)))
           auth)))

(define* (registry-configuration->yaml config
                                       #:key (storage-root
                                              %default-storage-root))
  "Return the text of Distribution's config.yml for CONFIG.  STORAGE-ROOT is
the storage directory used when CONFIG leaves it unset."
  (let ((root (registry-configuration-storage-root config)))
    (string-append
     "# Distribution registry configuration, generated by fsdgimg." %newline
     (entries->yaml (registry-yaml-entries config
                                           (if (maybe-value-set? root) root
                                               storage-root)) 0))))

(define (registry-configuration-file config)
  "Return a file-like object for the config.yml of CONFIG."
  (plain-file "registry-config.yml"
              (registry-configuration->yaml config)))

(define (registry-command config)
  "Return a G-expression for the command line that runs the registry of
CONFIG."
  #~(list #$(file-append (registry-configuration-package config)
                         "/bin/registry") "serve"
          #$(registry-configuration-file config)))

;;;
;;; Guix System service.
;;;

(define (registry-storage-root config)
  (let ((root (registry-configuration-storage-root config)))
    (if (maybe-value-set? root) root %default-storage-root)))

(define (registry-accounts config)
  (match-record config <registry-configuration>
    (user group)
    (list (user-group
            (name group)
            (system? #t))
          (user-account
            (name user)
            (group group)
            (system? #t)
            (comment "Container image registry user")
            (home-directory "/var/empty")
            (shell (file-append shadow "/sbin/nologin"))))))

(define (registry-activation config)
  (match-record config <registry-configuration>
    (user group)
    (let ((root (registry-storage-root config)))
      #~(begin
          (use-modules (guix build utils))
          (let ((user (getpwnam #$user))
                (group (getgrnam #$group)))
            (mkdir-p #$root)
            (chown #$root
                   (passwd:uid user)
                   (group:gid group))
            (chmod #$root #o750))))))

(define (registry-shepherd-services config)
  (match-record config <registry-configuration>
    (user group environment-variables log-file)
    (list (shepherd-service (provision '(registry))
                            (requirement '(user-processes))
                            (documentation "Run the container image registry.")
                            (start #~(make-forkexec-constructor #$(registry-command
                                                                   config)
                                                                #:user #$user
                                                                #:group #$group
                                                                #:environment-variables '#$environment-variables
                                                                #:log-file #$log-file))
                            (stop #~(make-kill-destructor))))))

(define (registry-profile config)
  (list (registry-configuration-package config)))

(define registry-service-type
  (service-type (name 'registry)
                (extensions (list (service-extension
                                   shepherd-root-service-type
                                   registry-shepherd-services)
                                  (service-extension account-service-type
                                                     registry-accounts)
                                  (service-extension activation-service-type
                                                     registry-activation)
                                  (service-extension profile-service-type
                                                     registry-profile)))
                (default-value (registry-configuration))
                (description
                 "Run the CNCF Distribution container image registry, storing images on
the local file system, as an unprivileged user.")))

;;;
;;; Guix Home service.
;;;

(define (home-registry-storage-root config)
  "Return a G-expression for the storage directory of the Guix Home
registry."
  (let ((root (registry-configuration-storage-root config)))
    (if (maybe-value-set? root) root
        #~(string-append (or (getenv "XDG_DATA_HOME")
                             (string-append (getenv "HOME") "/.local/share"))
                         "/registry"))))

(define (home-registry-start config)
  ;; Distribution reads REGISTRY_* environment variables as overrides of its
  ;; configuration file: the storage directory is only known at run time.
  #~(lambda _
      (let ((root #$(home-registry-storage-root config)))
        (mkdir-p root)
        (fork+exec-command #$(registry-command config)
                           #:environment-variables (append (list (string-append
                                                                  "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="
                                                                  root))
                                                           '#$(registry-configuration-environment-variables
                                                               config)
                                                           (environ))))))

(define (home-registry-shepherd-services home-config)
  (define config
    (home->registry-configuration home-config))
  (list (shepherd-service (provision '(registry))
                          (documentation
                           "Run a personal container image registry.")
                          (start (home-registry-start config))
                          (stop #~(make-kill-destructor)))))

(define home-registry-service-type
  (service-type (name 'home-registry)
                (extensions (list (service-extension
                                   home-shepherd-service-type
                                   home-registry-shepherd-services)
                                  (service-extension home-profile-service-type
                                   (compose registry-profile
                                            home->registry-configuration))))
                (default-value (home-registry-configuration))
                (description
                 "Run the CNCF Distribution container image registry as the user, storing
images under the user's data directory.")))

;;; registry.scm ends here
