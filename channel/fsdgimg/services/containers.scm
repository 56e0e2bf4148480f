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
  #:use-module (fsdgimg packages fsdgimg)
  #:use-module (fsdgimg services validation)
  #:use-module (fsdgimg services web-config)
  #:use-module (gnu home services)
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
            containers-registries-configuration-accepted-registries
            containers-registries-configuration-sigstore-public-key
            containers-registries-configuration-gpg-keyring
            containers-registries-configuration-lookasides
            containers-registries-configuration-mirrors
            containers-registries-configuration-fsdgimg
            containers-registries-configuration->toml
            containers-policy-arguments
            containers-registries.d-arguments
            containers-registries-file
            containers-policy-file
            containers-registries.d-file
            %non-free-registries
            non-free-registry?
            containers-registries-service-type
            home-containers-registries-service-type))

;;; Commentary:
;;;
;;; A policy for the containers tools (Podman, Skopeo, Buildah):
;;;
;;;   - registries.conf: short image names ("hello" rather than
;;;     "registry.example.org/hello") resolve only on the registries of FSDG
;;;     distributions, and Docker Hub is blocked under each of its names;
;;;   - policy.json: images are rejected unless they come from the configured
;;;     FSDG registries (or a local transport: OCI layouts, archives,
;;;     containers-storage), signed by the given keys when keys are given;
;;;   - registries.d/fsdgimg.yaml, with a sigstore key or a GnuPG keyring:
;;;     look up cosign signatures of those registries, and their OpenPGP
;;;     signatures at the lookaside URLs given;
;;;   - a mirror serving a distribution's images under another name: its
;;;     images must carry the origin's signatures.
;;;
;;; policy.json and registries.d are fsdgimg's knowledge (the requirements,
;;; the signed identities of mirrors, where a static tree keeps signatures:
;;; python/fsdgimg/trust/policy.py): 'fsdgimg web-config policy' and
;;; 'fsdgimg web-config registries.d' write them at build time, from the
;;; arguments this module gives (containers-policy-arguments,
;;; containers-registries.d-arguments).  This module checks the
;;; configuration where it is written and writes registries.conf, which
;;; only it knows.
;;;
;;; 'containers-registries-service-type' writes them to /etc/containers,
;;; 'home-containers-registries-service-type' to ~/.config/containers.
;;;
;;; Upstream's rootless-podman-service-type writes /etc/containers itself:
;;; with it, do not add this service; pass (containers-registries-file
;;; CONFIG) and (containers-policy-file CONFIG) as its
;;; 'containers-registries' and 'containers-policy' fields instead.
;;;
;;; Code:

(define %non-free-registries
  ;; Docker Hub, under the names clients use for it.  Every other name in
  ;; the docker.io and docker.com domains is refused too.
  '("docker.io" "index.docker.io" "registry-1.docker.io"
    "registry.hub.docker.com"))

(define (registry-host registry)
  "Return the host name of REGISTRY, \"HOST[:PORT][/PATH]\" possibly with a
scheme, in lower case, without its port."
  (let* ((lower (string-downcase (string-trim-both registry)))
         (start (match (string-contains lower "://")
                  (#f 0)
                  (index (+ index 3))))
         (rest (string-drop lower start))
         (host+port (car (string-split rest #\/))))
    (if (string-prefix? "[" host+port) host+port ;an IPv6 address
        (car (string-split host+port #\:)))))

(define (non-free-registry? registry)
  "Return true if REGISTRY, in any spelling and with any port, is Docker Hub
or another docker.io or docker.com name."
  (let ((host (string-trim-right (registry-host registry) #\.)))
    (or (member host %non-free-registries)
        (member host
                '("docker.com"))
        (string-suffix? ".docker.io" host)
        (string-suffix? ".docker.com" host))))

(define (check-fsdg-registries field value location)
  "Return VALUE, the registries of FIELD, or raise an error at LOCATION if one
is not a list of strings or names Docker Hub."
  (unless (list-of-strings? value)
    (configuration-field-error location field value))
  (match (filter non-free-registry? value)
    (() value)
    (refused (located-error location
                            (formatted-message (G_
                                                "~a: ~{~a~^, ~}: not an FSDG distribution registry (Docker Hub is blocked)")
                                               field refused)))))

(define-located-sanitizer sanitize-search-registries
                          unqualified-search-registries check-fsdg-registries)
(define-located-sanitizer sanitize-insecure-registries insecure-registries
                          check-fsdg-registries)
(define-located-sanitizer sanitize-accepted-registries accepted-registries
                          check-fsdg-registries)

(define (short-name-mode? value)
  (memq value
        '(enforcing permissive disabled)))

(define-maybe/no-serialization string)

(define (lookaside-url? value)
  "Return true if VALUE is an http(s) URL that can be written in YAML as it
is."
  (and (string? value)
       (or (string-prefix? "https://" value)
           (string-prefix? "http://" value))
       (string-every (lambda (char)
                       (and (char<? #\space char #\delete)
                            (not (memv char
                                       '(#\" #\' #\# #\\))))) value)))

(define (list-of-lookasides? value)
  (and (list? value)
       (every (match-lambda
                ((registry . url) (and (string? registry)
                                       (lookaside-url? url)))
                (_ #f)) value)))

(define (check-lookasides field value location)
  "Return VALUE, an association list of registries and lookaside URLs, or
raise an error at LOCATION."
  (unless (list-of-lookasides? value)
    (located-error location
                   (formatted-message (G_
                                       "~a: expected a list of (REGISTRY . URL) pairs, URL an http(s) URL such as `fsdgimg web-config registries.d --registry REGISTRY' prints")
                                      field)))
  (check-fsdg-registries field
                         (map car value) location) value)

(define-located-sanitizer sanitize-lookasides lookasides check-lookasides)

(define (list-of-mirrors? value)
  (and (list? value)
       (every (match-lambda
                ((mirror . origin) (and (string? mirror)
                                        (string? origin)
                                        (not (string-null? mirror))
                                        (not (string-null? origin))
                                        (not (string=? mirror origin))
                                        (not (string-any char-whitespace?
                                                         mirror))
                                        (not (string-any char-whitespace?
                                                         origin))))
                (_ #f)) value)))

(define (check-mirrors field value location)
  "Return VALUE, an association list of mirrors and the registries they
mirror, or raise an error at LOCATION."
  (unless (list-of-mirrors? value)
    (located-error location
                   (formatted-message (G_
                                       "~a: expected a list of (MIRROR . ORIGIN) pairs, each HOST[:PORT][/PATH], MIRROR not ORIGIN")
                                      field)))
  (check-fsdg-registries field
                         (append (map car value)
                                 (map cdr value)) location) value)

(define-located-sanitizer sanitize-mirrors mirrors check-mirrors)

(define-configuration containers-registries-configuration
  (unqualified-search-registries (list-of-strings '())
   "The registries, as @var{host}[:@var{port}], that short image names are
looked up on, in order.  They must be registries of FSDG distributions:
Docker Hub is refused under any of its names, in any spelling, with any port.
With the empty list, every image name must name its registry."
   (sanitizer sanitize-search-registries))
  (short-name-mode (short-name-mode 'enforcing)
   "What the tools do when a short name matches several registries:
@code{enforcing} asks on a terminal and fails elsewhere, @code{permissive}
and @code{disabled} try them in order.")
  (insecure-registries (list-of-strings '())
   "Registries reached over plain HTTP or with unverified TLS, such as a
test registry on @code{localhost:5000}."
   (sanitizer sanitize-insecure-registries))
  (blocked-registries (list-of-strings '())
   "Registries the tools refuse to pull from, besides Docker Hub's names,
which are always blocked.")
  (accepted-registries (list-of-strings '())
   "Registries whose images @file{policy.json} accepts, besides the
@code{unqualified-search-registries}.  Images from anywhere else are
rejected.")
  (sigstore-public-key maybe-string
   "The file name of a sigstore (cosign) public key.  When set, images from
the accepted registries must carry a cosign signature made with its private
key (@code{sigstoreSigned} in @file{policy.json}).")
  (gpg-keyring maybe-string
   "The file name of a GnuPG keyring.  When set, images from the accepted
registries must carry a simple signing signature by one of its keys
(@code{signedBy} in @file{policy.json}).")
  (lookasides (list-of-lookasides '())
   "Where the OpenPGP signatures of accepted registries are served, as an
association list of registries and URLs (@code{lookaside} in
@file{registries.d}), for instance @code{'((\"registry.example.org\"
. \"https://registry.example.org/sigstore\"))}.  For a static tree published
by fsdgimg, use the URL that @command{fsdgimg web-config registries.d
--registry @var{host}} prints."
   (sanitizer sanitize-lookasides))
  (mirrors (list-of-mirrors '())
   "Mirrors serving the images of a distribution's registry under another
name, as an association list of mirrors and origins, each
@var{host}[:@var{port}][/@var{path}], for instance
@code{'((\"mirror.example.net\" . \"images.example.org\"))}.  Their images
are accepted when they carry the origin's signatures: OpenPGP ones remapped
from the mirror's prefix to the origin's, cosign ones naming the origin's
repository, which must then be given per repository
(@code{'((\"mirror.example.net/hello\" . \"images.example.org/hello\"))}).
This is what @command{fsdgimg web-config policy --mirror
@var{mirror}=@var{origin}} prints; their OpenPGP signatures are looked up at
the mirror's @code{lookasides} entry."
   (sanitizer sanitize-mirrors))
  (fsdgimg (file-like fsdgimg)
   "The fsdgimg package whose @command{fsdgimg web-config} command writes
@file{policy.json} and @file{registries.d}.")
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

(define (all-blocked-registries config)
  (delete-duplicates (append %non-free-registries
                             (containers-registries-configuration-blocked-registries
                              config))))

(define (containers-registries-configuration->toml config)
  "Return the text of registries.conf for CONFIG."
  (match-record config <containers-registries-configuration>
    (unqualified-search-registries short-name-mode insecure-registries)
    (define blocked
      (all-blocked-registries config))
    (define (table location)
      (registry-table location
                      (member location insecure-registries)
                      (member location blocked)))
    (string-append (lines
                    "# Container registries policy, generated by fsdgimg."
                    (string-append "unqualified-search-registries = "
                                   (toml-array unqualified-search-registries))
                    (string-append "short-name-mode = "
                                   (toml-string (symbol->string
                                                 short-name-mode))))
                   (string-concatenate (map table
                                            (delete-duplicates (append
                                                                insecure-registries
                                                                blocked)))))))

(define (accepted-registries config)
  (delete-duplicates (append (containers-registries-configuration-unqualified-search-registries
                              config)
                             (containers-registries-configuration-accepted-registries
                              config))))

(define (options option values)
  "Return OPTION followed by each of VALUES, as many times as there are."
  (append-map (cut list option <>) values))

(define (mirror-arguments config)
  (options "--mirror"
           (map (match-lambda
                  ((mirror . origin) (string-append mirror "=" origin)))
                (containers-registries-configuration-mirrors config))))

(define (containers-policy-arguments config)
  "Return the arguments of the @command{fsdgimg} command that prints the
policy.json of CONFIG: images from the accepted registries and mirrors only,
signed by the keys of CONFIG, the blocked registries rejected."
  (match-record config <containers-registries-configuration>
    (sigstore-public-key gpg-keyring)
    (append (list "web-config" "policy" "--default" "reject")
            (options "--registry"
                     (accepted-registries config))
            (mirror-arguments config)
            (options "--block"
                     (all-blocked-registries config))
            (if (maybe-value-set? sigstore-public-key)
                (list "--sigstore-key" sigstore-public-key)
                '())
            (if (maybe-value-set? gpg-keyring)
                (list "--gpg-key" gpg-keyring)
                '()))))

(define (containers-registries.d-arguments config)
  "Return the arguments of the @command{fsdgimg} command that prints the
registries.d/fsdgimg.yaml of CONFIG: cosign signatures looked up on the
accepted registries and mirrors, OpenPGP ones at their lookasides, if any."
  (define registries
    (append (accepted-registries config)
            (map car
                 (containers-registries-configuration-mirrors config))))
  (append (list "web-config" "registries.d")
          (options "--registry"
                   (accepted-registries config))
          (mirror-arguments config)
          (list "--no-default-lookaside")
          (options "--lookaside"
                   (filter-map (match-lambda
                                 ((registry . url) (and (member registry
                                                                registries)
                                                        (string-append
                                                         registry "=" url))))
                               (containers-registries-configuration-lookasides
                                config)))))

(define (containers-registries-file config)
  "Return a file-like object for the registries.conf of CONFIG."
  (plain-file "registries.conf"
              (containers-registries-configuration->toml config)))

(define (containers-policy-file config)
  "Return a file-like object for the policy.json of CONFIG, as fsdgimg writes
it."
  (fsdgimg-web-config-file "policy.json"
                           (containers-registries-configuration-fsdgimg config)
                           (containers-policy-arguments config)))

(define (containers-registries.d-file config)
  "Return a file-like object for registries.d/fsdgimg.yaml of CONFIG, as
fsdgimg writes it."
  (fsdgimg-web-config-file "fsdgimg.yaml"
                           (containers-registries-configuration-fsdgimg config)
                           (containers-registries.d-arguments config)))

(define (containers-files config)
  "Return the (NAME FILE) pairs of the files of CONFIG, relative to the
containers configuration directory."
  (append (list (list "registries.conf"
                      (containers-registries-file config))
                (list "policy.json"
                      (containers-policy-file config)))
          (if (or (maybe-value-set? (containers-registries-configuration-sigstore-public-key
                                     config))
                  (maybe-value-set? (containers-registries-configuration-gpg-keyring
                                     config)))
              (list (list "registries.d/fsdgimg.yaml"
                          (containers-registries.d-file config)))
              '())))

(define (containers-registries-etc config)
  (map (match-lambda
         ((name file)
          (list (string-append "containers/" name) file)))
       (containers-files config)))

(define containers-registries-service-type
  (service-type (name 'containers-registries)
                (extensions (list (service-extension etc-service-type
                                   containers-registries-etc)))
                (default-value (containers-registries-configuration))
                (description
                 "Write @file{/etc/containers/registries.conf} and
@file{policy.json} so that the containers tools resolve short image names on
FSDG distributions' registries only, never pull from Docker Hub, and accept
images from the configured registries only.")))

(define home-containers-registries-service-type
  (service-type (name 'home-containers-registries)
                (extensions (list (service-extension
                                   home-xdg-configuration-files-service-type
                                   containers-registries-etc)))
                (default-value (containers-registries-configuration))
                (description
                 "Write @file{~/.config/containers/registries.conf} and
@file{policy.json}, the containers tools' per-user policy: short image names
resolve on FSDG distributions' registries only, Docker Hub is blocked, and
images from other registries are rejected.")))

;;; containers.scm ends here
