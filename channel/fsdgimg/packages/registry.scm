;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg packages registry)
  #:use-module (guix build-system go)
  #:use-module (guix gexp)
  #:use-module (guix git-download)
  #:use-module ((guix licenses)
                #:prefix license:)
  #:use-module (guix packages)
  #:use-module (gnu packages golang))

;;; Commentary:
;;;
;;; The CNCF Distribution registry, 3.x series.  Upstream Guix only has the
;;; 2.8 series, as 'docker-registry'.
;;;
;;; Code:

(define-public distribution-registry
  (package
    (name "distribution-registry")
    (version "3.1.1")
    (source
     (origin
       (method git-fetch)
       (uri (git-reference
             (url "https://github.com/distribution/distribution")
             (commit (string-append "v" version))))
       (file-name (git-file-name name version))
       ;; Computed with 'guix hash -x -r' on a checkout of tag v3.1.1
       ;; (commit 9a8d98b679740cd514aa7e7d84d23d442a5ef54c), and checked by
       ;; adding that checkout to the store: it landed at this origin's
       ;; fixed output path.  'guix build' of the package itself has not
       ;; run on the project's machines, which have no substitutes (Go would
       ;; build from source); the 'build' phase's 'go build' command did
       ;; build that checkout offline with Debian's Go 1.27.
       (sha256
        (base32 "0qhnnpb6wq23wrik2scrizkvyfcryc69nkmqhamh2mzmdr0pghra"))))
    (build-system go-build-system)
    (arguments
     (list
      #:go go-1.25
      #:import-path "github.com/distribution/distribution/v3"
      #:install-source? #f
      ;; Most test suites need cloud storage back ends or a network; these
      ;; run offline.
      #:test-subdirs
      #~(list "configuration" "health" "manifest/..."
              "registry/storage/driver/filesystem")
      #:phases
      #~(modify-phases %standard-phases
          (add-after 'unpack 'use-vendored-modules
            (lambda _
              ;; Build in module mode against the 'vendor' directory that
              ;; upstream ships, with no network and no toolchain download.
              (setenv "GO111MODULE" "on")
              (setenv "GOFLAGS" "-mod=vendor")
              (setenv "GOPROXY" "off")
              (setenv "GOTOOLCHAIN" "local")))
          (replace 'build
            (lambda* (#:key import-path #:allow-other-keys)
              (with-directory-excursion (string-append "src/" import-path)
                (for-each (lambda (command)
                            (invoke "go"
                                    "build"
                                    "-trimpath"
                                    "-buildmode=pie"
                                    "-o"
                                    (string-append "bin/" command)
                                    "-ldflags"
                                    (string-append "-s -w -X "
                                                   import-path
                                                   "/version.version=v"
                                                   #$version
                                                   " -X "
                                                   import-path
                                                   "/version.mainpkg="
                                                   import-path)
                                    (string-append "./cmd/" command)))
                          '("registry" "digest")))))
          (replace 'check
            (lambda* (#:key tests? import-path test-subdirs #:allow-other-keys)
              (when tests?
                (with-directory-excursion (string-append "src/" import-path)
                  (apply invoke "go" "test"
                         (map (lambda (dir)
                                (string-append "./" dir)) test-subdirs))))))
          (replace 'install
            (lambda* (#:key import-path #:allow-other-keys)
              (with-directory-excursion (string-append "src/" import-path)
                (for-each (lambda (command)
                            (install-file (string-append "bin/" command)
                                          (string-append #$output "/bin")))
                          '("registry" "digest"))
                ;; Sample configurations, as upstream's image ships them.
                (for-each (lambda (file)
                            (install-file file
                                          (string-append #$output "/share/"
                                                         #$name)))
                          (find-files "cmd/registry" "\\.yml$"))
                (install-file "LICENSE"
                              (string-append #$output "/share/doc/"
                                             #$name "-"
                                             #$version))))))))
    (home-page "https://distribution.github.io/distribution/")
    (synopsis "Server for storing and distributing container images")
    (description
     "The CNCF Distribution registry is a stateless server that stores and
lets clients push and pull container images and other artifacts through the
OCI distribution API.  This package provides the @command{registry} server
and the @command{digest} tool of the 3.x series; sample configuration files
are in @file{share/distribution-registry}.")
    (license license:asl2.0)))
