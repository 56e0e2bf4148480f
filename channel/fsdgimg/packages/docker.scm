;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg packages docker)
  #:use-module (gnu packages docker)
  #:use-module (gnu packages version-control)
  #:use-module (guix packages)
  #:export (%docker-fsdg-patches-directory))

;;; Commentary:
;;;
;;; Docker without Docker Hub.  Guix's docker and docker-cli (20.10) resolve
;;; a short name such as "archlinux" to Docker Hub, which distributes
;;; nonfree software, and upstream refused a configurable default.  These
;;; variants carry two patches:
;;;
;;;   - default registry: with DOCKER_DEFAULT_REGISTRY=HOST[:PORT][/PATH] in
;;;     the environment of the client and of the daemon, "trisquel:11"
;;;     means HOST[:PORT][/PATH]/trisquel:11;
;;;   - no Docker Hub: the daemon, BuildKit's registry hosts included (and
;;;     the client, which reaches registries itself for 'docker manifest'),
;;;     refuses docker.io and its aliases,
;;;     with one line naming fully qualified names, unless
;;;     DOCKER_ALLOW_DOCKER_HUB=1.
;;;
;;; 'docker-fsdg-service-type' in (fsdgimg services docker) sets both.  The
;;; same patch files are built and tested on Debian's docker.io source of
;;; the same series by scripts/docker-fsdg-debian-build.sh.
;;;
;;; Code:

(define %docker-fsdg-patches-directory
  ;; The patches are files of this channel, next to this module: found
  ;; where Guile found the module, so that they are found with 'guix pull'
  ;; as with '-L' (Guix's own 'search-patches' looks in its %patch-path,
  ;; which '-L' extends for 'guix build' but not for 'guix repl').
  ;; The entry of %load-path may be relative ('-L channel'): the origin
  ;; needs an absolute file name.
  (string-append (dirname (canonicalize-path (search-path %load-path
                                              "fsdgimg/packages/docker.scm")))
                 "/patches"))

(define (channel-patches . names)
  "Return the absolute file names of the patches NAMES of this channel."
  (map (lambda (name)
         (string-append %docker-fsdg-patches-directory "/" name)) names))

(define-public docker-fsdg
  (package
    (inherit docker)
    (name "docker-fsdg")
    (source
     (origin
       (inherit (package-source docker))
       (patches (channel-patches "docker-fsdg-default-registry.patch"
                                 "docker-fsdg-refuse-docker-hub.patch"))))
    (inputs
     ;; Git only serves 'docker build' of Git URLs: git-minimal does, and
     ;; unlike git (through Subversion's serf, built with SCons) it
     ;; cross-compiles, so that this daemon builds for other architectures.
     (modify-inputs (package-inputs docker)
       (delete "git")
       (append git-minimal)))
    (synopsis "Docker daemon that does not default to Docker Hub")
    (description
     "This package provides the Docker daemon, @command{dockerd}, patched so
that a short image name such as @code{trisquel:11} resolves to the registry
named by the @env{DOCKER_DEFAULT_REGISTRY} environment variable rather than to
Docker Hub, and so that Docker Hub, which distributes non-free software, is
not contacted under any of its names unless @env{DOCKER_ALLOW_DOCKER_HUB} is
set to @code{1}.")))

(define-public docker-cli-fsdg
  (package
    (inherit docker-cli)
    (name "docker-cli-fsdg")
    (source
     (origin
       (inherit (package-source docker-cli))
       (patches (channel-patches "docker-cli-fsdg-default-registry.patch"
                                 "docker-cli-fsdg-refuse-docker-hub.patch"))))
    (synopsis "Docker command line that does not default to Docker Hub")
    (description
     "This package provides the @command{docker} command, patched so that a
short image name such as @code{trisquel:11} resolves to the registry named by
the @env{DOCKER_DEFAULT_REGISTRY} environment variable rather than to Docker
Hub, and so that Docker Hub is not contacted under any of its names unless
@env{DOCKER_ALLOW_DOCKER_HUB} is set to @code{1}.  Use it with the daemon of
the @code{docker-fsdg} package.")))
