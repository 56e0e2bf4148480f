;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services docker)
  #:use-module (fsdgimg packages docker)
  #:use-module ((fsdgimg services containers)
                #:select (non-free-registry?))
  #:use-module (fsdgimg services validation)
  #:use-module (gnu services)
  #:use-module (gnu services base)
  #:use-module (gnu services configuration)
  #:use-module (gnu services docker)
  #:use-module ((gnu packages docker)
                #:select (docker-libnetwork-cmd-proxy))
  #:use-module (gnu system pam)
  #:use-module (guix diagnostics)
  #:use-module (guix gexp)
  #:use-module (guix i18n)
  #:use-module (guix records)
  #:use-module (ice-9 regex)
  #:export (docker-fsdg-configuration docker-fsdg-configuration?
            docker-fsdg-configuration-docker
            docker-fsdg-configuration-docker-cli
            docker-fsdg-configuration-default-registry
            docker-fsdg-configuration-allow-docker-hub?
            docker-fsdg-configuration-environment-variables
            docker-fsdg-configuration->docker-configuration
            docker-fsdg-environment-variables
            docker-fsdg-service-type))

;;; Commentary:
;;;
;;; Docker for FSDG distributions: upstream's docker-service-type, run with
;;; the docker-fsdg daemon and docker-cli-fsdg client of (fsdgimg packages
;;; docker), and their two settings:
;;;
;;;   - 'default-registry': the registry short names ("trisquel:11") resolve
;;;     to, as DOCKER_DEFAULT_REGISTRY in the daemon's environment and in
;;;     every login session's (/etc/environment), since the client
;;;     normalises names too and both must agree;
;;;   - 'allow-docker-hub?': lift the refusal of Docker Hub
;;;     (DOCKER_ALLOW_DOCKER_HUB=1 for the daemon).
;;;
;;; The other fields are those of upstream's 'docker-configuration' (whose
;;; accessors (gnu services docker) does not export), with the patched
;;; packages as defaults.  This service provides 'dockerd' and extends the
;;; same services as docker-service-type, whose extensions it reuses on the
;;; docker-configuration it stands for: do not add both.
;;;
;;; Code:

(define (registry-reference-prefix? value)
  "Return true if VALUE can prefix an image name as docker reads it:
HOST[:PORT][/PATH], where HOST has a dot or a port or is localhost (else docker
would read it as part of the path)."
  (and (string? value)
       (let ((match (string-match
                     "^([A-Za-z0-9.-]+)(:[0-9]+)?(/[a-z0-9._-]+)*$" value)
               ))
         (and match
              (let ((host (match:substring match 1)))
                (or (string-index host #\.)
                    (match:substring match 2)
                    (string=? host "localhost")))))))

(define (check-default-registry field value location)
  "Return VALUE, the default registry, or raise an error at LOCATION."
  (cond
    ((eq? value %unset-value)
     value)
    ((not (registry-reference-prefix? value))
     (located-error location
                    (formatted-message (G_
                                        "~a: ~s: not a registry as HOST[:PORT][/PATH], e.g. registry.example.org or 127.0.0.1:5000")
                                       field value)))
    ((non-free-registry? value)
     (located-error location
                    (formatted-message (G_
                                        "~a: ~s: not an FSDG distribution registry (Docker Hub is refused)")
                                       field value)))
    (else value)))

(define-located-sanitizer sanitize-default-registry default-registry
                          check-default-registry)

(define-maybe/no-serialization string)
(define-maybe/no-serialization file-like)

(define-configuration/no-serialization docker-fsdg-configuration
                                       (docker (file-like docker-fsdg)
                                        "The Docker daemon package: one carrying the docker-fsdg patches, or the
two settings below do nothing.")
                                       (docker-cli (file-like docker-cli-fsdg)
                                        "The Docker client package: one carrying the docker-cli-fsdg patches.")
                                       (default-registry maybe-string
                                        "The registry that short image names resolve to, as
@code{HOST[:PORT][/PATH]} (no scheme), e.g. @code{\"registry.example.org\"}:
@code{docker pull trisquel:11} then pulls
@code{registry.example.org/trisquel:11}.  Unset, a short name means Docker Hub,
which is refused unless @code{allow-docker-hub?}."
                                        (sanitizer sanitize-default-registry))
                                       (allow-docker-hub? (boolean #f)
                                        "Whether the daemon may contact Docker Hub (@code{docker.io} and its other
names) when an image name says so.")
                                       (proxy (file-like
                                               docker-libnetwork-cmd-proxy)
                                        "As in upstream's @code{docker-configuration}: the user-land proxy.")
                                       (enable-proxy? (boolean #t)
                                        "As in upstream's @code{docker-configuration}.")
                                       (debug? (boolean #f)
                                        "As in upstream's @code{docker-configuration}.")
                                       (enable-iptables? (boolean #t)
                                        "As in upstream's @code{docker-configuration}.")
                                       (environment-variables (list '())
                                        "More environment variables for @command{dockerd}, as
@code{\"NAME=VALUE\"} strings.")
                                       (config-file maybe-file-like
                                        "As in upstream's @code{docker-configuration}: a @file{daemon.json}."))

(define (docker-fsdg-environment-variables config)
  "Return the environment variables, as \"NAME=VALUE\" strings, that carry
the settings of CONFIG to docker-fsdg's daemon and client."
  (let ((registry (docker-fsdg-configuration-default-registry config)))
    (append (if (maybe-value-set? registry)
                (list (string-append "DOCKER_DEFAULT_REGISTRY=" registry))
                '())
            (if (docker-fsdg-configuration-allow-docker-hub? config)
                '("DOCKER_ALLOW_DOCKER_HUB=1")
                '()))))

(define (docker-fsdg-configuration->docker-configuration config)
  "Return the upstream docker-configuration that runs CONFIG."
  (docker-configuration (docker (docker-fsdg-configuration-docker config))
                        (docker-cli (docker-fsdg-configuration-docker-cli
                                     config))
                        (proxy (docker-fsdg-configuration-proxy config))
                        (enable-proxy? (docker-fsdg-configuration-enable-proxy?
                                        config))
                        (debug? (docker-fsdg-configuration-debug? config))
                        (enable-iptables? (docker-fsdg-configuration-enable-iptables?
                                           config))
                        (environment-variables (append (docker-fsdg-environment-variables
                                                        config)
                                                       (docker-fsdg-configuration-environment-variables
                                                        config)))
                        (config-file (docker-fsdg-configuration-config-file
                                      config))))

(define (session-environment config)
  "Return the variables of CONFIG for login sessions, as pairs: the client
resolves short names too, and must agree with the daemon."
  (map (lambda (variable)
         (let ((index (string-index variable #\=)))
           (cons (string-take variable index)
                 (string-drop variable
                              (+ index 1)))))
       (docker-fsdg-environment-variables config)))

(define docker-fsdg-service-type
  (service-type (name 'docker-fsdg)
                (extensions (cons (service-extension
                                   session-environment-service-type
                                   session-environment)
                                  ;; Upstream's extensions (profile, activation, shepherd, accounts),
                                  ;; applied to the docker-configuration this record stands for.
                                  (map (lambda (extension)
                                         (service-extension (service-extension-target
                                                             extension)
                                                            (compose (service-extension-compute
                                                                      extension)
                                                             docker-fsdg-configuration->docker-configuration)))
                                       (service-type-extensions
                                        docker-service-type))))
                (default-value (docker-fsdg-configuration))
                (description
                 "Run the Docker daemon of the @code{docker-fsdg} package, which resolves
short image names on a configured FSDG registry and refuses Docker Hub, with
the matching @code{docker} command in the system profile.")))
