;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services static-registry)
  #:use-module (fsdgimg packages fsdgimg)
  #:use-module (fsdgimg services web-config)
  #:use-module (gnu services)
  #:use-module (gnu services configuration)
  #:use-module (gnu services web)
  #:use-module (guix gexp)
  #:use-module (guix records)
  #:export (static-registry-configuration static-registry-configuration?
            static-registry-configuration-fsdgimg
            static-registry-configuration-root
            static-registry-configuration-listen
            static-registry-configuration-server-name
            static-registry-configuration-ssl-certificate
            static-registry-configuration-ssl-certificate-key
            static-registry-web-config-arguments
            static-registry-nginx-locations
            static-registry-nginx-server
            static-registry-service-type))

;;; Commentary:
;;;
;;; Serve a static registry, the tree of plain files that 'fsdgimg publish'
;;; writes, through nginx.  The nginx 'location' blocks come from fsdgimg
;;; itself ('fsdgimg web-config nginx --locations-only'), run at build time:
;;; they are described once, on the Python side.
;;;
;;; Code:

(define-maybe/no-serialization string)

(define-configuration static-registry-configuration
  (fsdgimg (file-like fsdgimg)
   "The fsdgimg package whose @command{fsdgimg web-config} command writes the
nginx locations.")
  (root (string "/srv/fsdgimg/static")
        "The directory of the static tree: the one holding @file{v2/}.")
  (listen (list-of-strings '("80"))
   "The nginx @code{listen} directives of the server, such as @code{\"443
ssl\"}.")
  (server-name (list-of-strings '("_"))
               "The host names the nginx server answers to.")
  (ssl-certificate maybe-string
   "The TLS certificate file, for a @code{listen} directive with
@code{ssl}.")
  (ssl-certificate-key maybe-string
                       "The private key of @code{ssl-certificate}.")
  (no-serialization))

(define (static-registry-web-config-arguments config)
  "Return the arguments of the @command{fsdgimg} command that prints the
nginx locations serving the static tree of CONFIG."
  (list "web-config" "nginx" "--root"
        (static-registry-configuration-root config) "--locations-only"))

(define (static-registry-nginx-locations config)
  "Return a file-like object holding the nginx location blocks that serve the
static tree of CONFIG, as written by fsdgimg."
  (fsdgimg-web-config-file "fsdgimg-static-registry-locations.conf"
                           (static-registry-configuration-fsdgimg config)
                           (static-registry-web-config-arguments config)))

(define (static-registry-nginx-server config)
  "Return the nginx-server-configuration serving the static tree of CONFIG."
  (define (maybe value)
    (and (maybe-value-set? value) value))
  (match-record config <static-registry-configuration>
    (root listen server-name ssl-certificate ssl-certificate-key)
    (nginx-server-configuration (listen listen)
                                (server-name server-name)
                                (root root)
                                (index '())
                                (ssl-certificate (maybe ssl-certificate))
                                (ssl-certificate-key (maybe
                                                      ssl-certificate-key))
                                (raw-content (list (list "include "
                                                         (static-registry-nginx-locations
                                                          config) ";"))))))

(define (static-registry-activation config)
  #~(begin
      (use-modules (guix build utils))
      (mkdir-p #$(static-registry-configuration-root config))))

(define (static-registry-nginx-servers config)
  (list (static-registry-nginx-server config)))

(define static-registry-service-type
  (service-type (name 'static-registry)
                (extensions (list (service-extension nginx-service-type
                                   static-registry-nginx-servers)
                                  (service-extension activation-service-type
                                   static-registry-activation)))
                (default-value (static-registry-configuration))
                (description
                 "Serve a static container image registry, a tree of plain files written
by fsdgimg, through nginx.")))

;;; static-registry.scm ends here
