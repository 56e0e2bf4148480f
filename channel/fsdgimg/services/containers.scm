;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services containers)
  #:use-module (gnu services)
  #:use-module (gnu services configuration)
  #:use-module (guix diagnostics)
  #:use-module (guix gexp)
  #:use-module (guix i18n)
  #:use-module (guix records)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-26)
  #:export (containers-registries-configuration
            containers-registries-configuration?
            containers-registries-configuration-unqualified-search-registries
            containers-registries-configuration-short-name-mode
            containers-registries-configuration-insecure-registries
            containers-registries-configuration-blocked-registries
            containers-registries-configuration->toml
            containers-registries-file
            containers-registries-service-type))

;;; Commentary:
;;;
;;; A policy for the containers tools (Podman, Skopeo, Buildah):
;;; /etc/containers/registries.conf, whose short image names ("hello" rather
;;; than "registry.example.org/hello") resolve only on the registries of FSDG
;;; distributions.
;;;
;;; Upstream's rootless-podman-service-type writes the same file; with it,
;;; pass (containers-registries-file CONFIG) as its 'containers-registries'
;;; field instead of adding this service.
;;;
;;; Code:

(define %non-free-registries
  ;; Registries that serve images of non-free distributions by default.
  '("docker.io" "registry-1.docker.io" "index.docker.io"))

(define (sanitize-search-registries value)
  ;; Short names must never resolve to the registries of non-free
  ;; distributions: refuse them with a message that says so.
  (unless (list-of-strings? value)
    (configuration-field-error #f
                               'unqualified-search-registries value))
  (match (filter (cut member <> %non-free-registries) value)
    (() value)
    (refused (raise-exception (formatted-message (G_
                                                  "~{~a~^, ~}: not an FSDG distribution registry")
                                                 refused)))))

(define (short-name-mode? value)
  (memq value
        '(enforcing permissive disabled)))

(define-configuration containers-registries-configuration
  (unqualified-search-registries (list-of-strings '())
   "The registries, as @var{host}[:@var{port}], that short image names are
looked up on, in order.  They must be registries of FSDG distributions;
@code{docker.io} is refused.  With the empty list, every image name must
name its registry."
   (sanitizer sanitize-search-registries))
  (short-name-mode (short-name-mode 'enforcing)
   "What the tools do when a short name matches several registries:
@code{enforcing} asks on a terminal and fails elsewhere, @code{permissive}
and @code{disabled} try them in order.")
  (insecure-registries (list-of-strings '())
   "Registries reached over plain HTTP or with unverified TLS, such as a
test registry on @code{localhost:5000}.")
  (blocked-registries (list-of-strings '())
                      "Registries the tools refuse to pull from.")
  (no-serialization))

(define %newline
  (string #\newline))

(define (lines . strings)
  "Return STRINGS as lines of text."
  (string-concatenate (map (cut string-append <> %newline) strings)))

(define (char->toml char)
  "Return CHAR as it is written in a TOML basic string."
  (case char
    ((#\")
     "\\\"")
    ((#\\)
     "\\\\")
    (else (string char))))

(define (toml-string str)
  (string-append "\""
                 (string-concatenate (map char->toml
                                          (string->list str))) "\""))

(define (toml-array strings)
  (string-append "["
                 (string-join (map toml-string strings) ", ") "]"))

(define (toml-boolean value)
  (if value "true" "false"))

(define (registry-table location insecure? blocked?)
  "Return the [[registry]] table of LOCATION."
  (lines "" "[[registry]]"
         (string-append "location = "
                        (toml-string location))
         (string-append "insecure = "
                        (toml-boolean insecure?))
         (string-append "blocked = "
                        (toml-boolean blocked?))))

(define (containers-registries-configuration->toml config)
  "Return the text of registries.conf for CONFIG."
  (match-record config <containers-registries-configuration>
    (unqualified-search-registries short-name-mode insecure-registries
                                   blocked-registries)
    (define (table location)
      (registry-table location
                      (member location insecure-registries)
                      (member location blocked-registries)))
    (define special-registries
      (delete-duplicates (append insecure-registries blocked-registries)))
    (string-append (lines
                    "# Container registries policy, generated by fsdgimg."
                    (string-append "unqualified-search-registries = "
                                   (toml-array unqualified-search-registries))
                    (string-append "short-name-mode = "
                                   (toml-string (symbol->string
                                                 short-name-mode))))
                   (string-concatenate (map table special-registries)))))

(define (containers-registries-file config)
  "Return a file-like object for the registries.conf of CONFIG."
  (plain-file "registries.conf"
              (containers-registries-configuration->toml config)))

(define (containers-registries-etc config)
  (list (list "containers/registries.conf"
              (containers-registries-file config))))

(define containers-registries-service-type
  (service-type (name 'containers-registries)
                (extensions (list (service-extension etc-service-type
                                   containers-registries-etc)))
                (default-value (containers-registries-configuration))
                (description
                 "Write @file{/etc/containers/registries.conf} so that the containers
tools resolve short image names on FSDG distributions' registries only.")))

;;; containers.scm ends here
