;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; The bill of materials of Guix images, from the channel (no build needed).
;;; Run as `guix repl -L CHANNEL -- sbom.scm KIND NAME FILE ...' with
;;; triples of arguments: KIND is "system" (FILE evaluates to an
;;; operating-system) or "manifest" (FILE evaluates to a manifest).  Prints
;;; one JSON object on standard output:
;;;
;;;   {"guix": VERSION,
;;;    "images": [{"name", "kind", "file",
;;;                "packages": [{"name", "version", "license" (SPDX expression),
;;;                              "licenses" (Guix's names), "home-page",
;;;                              "role" ("package": in the image's profile,
;;;                                      "input": an explicit input of one),
;;;                              "source": {"method", "uri", "file-name",
;;;                                         "algorithm", "hash" (hex),
;;;                                         "recursive" (a nar hash, not a
;;;                                         file's)},
;;;                              "depends": ["NAME@VERSION", ...]}, ...]}, ...]}
;;;
;;; Licenses are mapped from (guix licenses) to SPDX identifiers here, in
;;; one table; a license without an SPDX identifier becomes
;;; "LicenseRef-guix-NAME".  A file that fails to load yields
;;; {"name", "kind", "file", "error"} and the next one is described.
;;;
;;; Code:

(use-modules (gnu system)
             (gnu services)
             (guix packages)
             (guix profiles)
             ((guix licenses) #:prefix license:)
             (guix download)
             (guix git-download)
             (guix svn-download)
             (guix hg-download)
             (guix base16)
             (guix ui)
             ((guix config) #:select (%guix-version))
             (json)
             (ice-9 match)
             (srfi srfi-1))

(define %spdx-licenses
  ;; (guix licenses) -> SPDX license list identifiers (or an SPDX expression).
  `((,license:afl2.1 . "AFL-2.1")
    (,license:agpl3 . "AGPL-3.0-only")
    (,license:agpl3+ . "AGPL-3.0-or-later")
    (,license:apsl2 . "APSL-2.0")
    (,license:asl1.1 . "Apache-1.1")
    (,license:asl2.0 . "Apache-2.0")
    (,license:blue-oak1.0.0 . "BlueOak-1.0.0")
    (,license:boost1.0 . "BSL-1.0")
    (,license:bsd-0 . "0BSD")
    (,license:bsd-1 . "BSD-1-Clause")
    (,license:bsd-2 . "BSD-2-Clause")
    (,license:bsd-3 . "BSD-3-Clause")
    (,license:bsd-4 . "BSD-4-Clause")
    (,license:cc0 . "CC0-1.0")
    (,license:cc-by2.0 . "CC-BY-2.0")
    (,license:cc-by3.0 . "CC-BY-3.0")
    (,license:cc-by4.0 . "CC-BY-4.0")
    (,license:cc-by-sa2.0 . "CC-BY-SA-2.0")
    (,license:cc-by-sa3.0 . "CC-BY-SA-3.0")
    (,license:cc-by-sa4.0 . "CC-BY-SA-4.0")
    (,license:cddl1.0 . "CDDL-1.0")
    (,license:cddl1.1 . "CDDL-1.1")
    (,license:cecill . "CECILL-2.1")
    (,license:cecill-b . "CECILL-B")
    (,license:cecill-c . "CECILL-C")
    (,license:artistic2.0 . "Artistic-2.0")
    (,license:clarified-artistic . "ClArtistic")
    (,license:cpl1.0 . "CPL-1.0")
    (,license:epl1.0 . "EPL-1.0")
    (,license:epl2.0 . "EPL-2.0")
    (,license:eupl1.1 . "EUPL-1.1")
    (,license:eupl1.2 . "EUPL-1.2")
    (,license:expat . "MIT")
    (,license:expat-0 . "MIT-0")
    (,license:freetype . "FTL")
    (,license:freebsd-doc . "FreeBSD-DOC")
    (,license:giftware . "Giftware")
    (,license:gpl1 . "GPL-1.0-only")
    (,license:gpl1+ . "GPL-1.0-or-later")
    (,license:gpl2 . "GPL-2.0-only")
    (,license:gpl2+ . "GPL-2.0-or-later")
    (,license:gpl3 . "GPL-3.0-only")
    (,license:gpl3+ . "GPL-3.0-or-later")
    (,license:fdl1.1+ . "GFDL-1.1-or-later")
    (,license:fdl1.2+ . "GFDL-1.2-or-later")
    (,license:fdl1.3+ . "GFDL-1.3-or-later")
    (,license:osl2.1 . "OSL-2.1")
    (,license:isc . "ISC")
    (,license:ijg . "IJG")
    (,license:ibmpl1.0 . "IPL-1.0")
    (,license:imlib2 . "Imlib2")
    (,license:ipa . "IPA")
    (,license:lgpl2.0 . "LGPL-2.0-only")
    (,license:lgpl2.0+ . "LGPL-2.0-or-later")
    (,license:lgpl2.1 . "LGPL-2.1-only")
    (,license:lgpl2.1+ . "LGPL-2.1-or-later")
    (,license:lgpl3 . "LGPL-3.0-only")
    (,license:lgpl3+ . "LGPL-3.0-or-later")
    (,license:lpl1.02 . "LPL-1.02")
    (,license:lppl1.2 . "LPPL-1.2")
    (,license:lppl1.3a . "LPPL-1.3a")
    (,license:lppl1.3c . "LPPL-1.3c")
    (,license:miros . "MirOS")
    (,license:mpl1.0 . "MPL-1.0")
    (,license:mpl1.1 . "MPL-1.1")
    (,license:mpl2.0 . "MPL-2.0")
    (,license:ms-pl . "MS-PL")
    (,license:ncsa . "NCSA")
    (,license:ohl2-s . "CERN-OHL-S-2.0")
    (,license:ohl2-w . "CERN-OHL-W-2.0")
    (,license:ohl2-p . "CERN-OHL-P-2.0")
    (,license:openldap2.8 . "OLDAP-2.8")
    (,license:openssl . "OpenSSL")
    (,license:perl-license . "Artistic-1.0-Perl OR GPL-1.0-or-later")
    (,license:psfl . "PSF-2.0")
    (,license:public-domain . "LicenseRef-public-domain")
    (,license:qpl . "QPL-1.0")
    (,license:ruby . "Ruby")
    (,license:sgifreeb2.0 . "SGI-B-2.0")
    (,license:silofl1.1 . "OFL-1.1")
    (,license:silofl1.0 . "OFL-1.0")
    (,license:sleepycat . "Sleepycat")
    (,license:tcl/tk . "TCL")
    (,license:unlicense . "Unlicense")
    (,license:vim . "Vim")
    (,license:w3c . "W3C")
    (,license:x11 . "X11")
    (,license:zpl2.1 . "ZPL-2.1")
    (,license:zlib . "Zlib")
    (,license:wtfpl2 . "WTFPL")
    (,license:wxwindows3.1+ . "wxWindows")
    (,license:hpnd . "HPND")
    (,license:agpl1 . "AGPL-1.0-only")
    (,license:arphic-1999 . "Arphic-1999")
    (,license:copyleft-next . "copyleft-next-0.3.0")
    (,license:cua-opl1.0 . "CUA-OPL-1.0")
    ;; The Eclipse Distribution License 1.0 is the 3-clause BSD license (SPDX says so).
    (,license:edl1.0 . "BSD-3-Clause")
    (,license:gfl1.0 . "LicenseRef-scancode-gust-font-1.0")
    (,license:knuth . "Knuth-CTAN")
    (,license:lal1.3 . "LAL-1.3")
    ;; Franz's preamble to the LGPL (SPDX lists it as an exception to LGPL 2.1).
    (,license:llgpl . "LGPL-2.1-only WITH LLGPL")
    ;; "VERSION or any later version" of the LPPL: SPDX has no -or-later ids for
    ;; it, and the SPDX validator refuses `ID+` for them; 1.3c, the latest, is a
    ;; version each of these lets one choose.  LPPL 1.3 and 1.3b exactly have
    ;; no SPDX id of their own (they stay LicenseRef-guix-…).
    (,license:lppl . "LPPL-1.3c")
    (,license:lppl1.0+ . "LPPL-1.3c")
    (,license:lppl1.1+ . "LPPL-1.3c")
    (,license:lppl1.2+ . "LPPL-1.3c")
    (,license:lppl1.3+ . "LPPL-1.3c")
    (,license:lppl1.3a+ . "LPPL-1.3c")
    (,license:lppl1.3b+ . "LPPL-1.3c")
    (,license:lppl1.3c+ . "LPPL-1.3c")
    (,license:ogl-psi1.0 . "OGL-UK-1.0")
    ;; The Open Publication License (SPDX's OPL-1.0 is another license, the Open Public License).
    (,license:opl1.0+ . "OPUBL-1.0+")
    ;; Qwt's license: LGPL 2.1 with its exceptions.
    (,license:qwt1.0 . "LGPL-2.1-only WITH Qwt-exception-1.0")
    (,license:repoze . "LicenseRef-scancode-repoze")
    (,license:unicode . "LicenseRef-scancode-unicode")))

(define (license-ref name)
  ;; An SPDX idstring: letters, digits, "." and "-".
  (string-append "LicenseRef-guix-"
                 (list->string
                  (map (lambda (c)
                         (if (or (char-alphabetic? c) (char-numeric? c)
                                 (memv c '(#\. #\-)))
                             c
                             #\-))
                       (string->list name)))))

(define (spdx-uri-id uri)
  ;; A license whose URI is its SPDX page names its SPDX id: Guix's own record of it.
  (let ((prefix "https://spdx.org/licenses/"))
    (and (string? uri) (string-prefix? prefix uri) (string-suffix? ".html" uri)
         (substring uri (string-length prefix) (- (string-length uri) 5)))))

(define %lax-license-names
  ;; What Guix's `non-copyleft' and `x11-style' procedures name: "a lax,
  ;; permissive, non-copyleft license" whose text is at the URI given (a BSD or
  ;; Expat variant).  ScanCode's LicenseDB has the same notion.
  '("non-copyleft" "X11-style"))

(define (license->spdx license)
  (or (assq-ref %spdx-licenses license)
      (spdx-uri-id (license:license-uri license))
      (and (member (license:license-name license) %lax-license-names)
           "LicenseRef-scancode-other-permissive")
      (license-ref (license:license-name license))))

(define (license-table)
  ;; Every license (guix licenses) exports, as this file maps it: what the
  ;; tests check for unmapped names.
  (let ((out '()))
    (module-for-each
     (lambda (symbol variable)
       (let ((value (and (variable-bound? variable) (variable-ref variable))))
         (when (license:license? value)
           (set! out (cons `(("symbol" . ,(symbol->string symbol))
                             ("name" . ,(license:license-name value))
                             ("spdx" . ,(license->spdx value)))
                           out)))))
     (resolve-interface '(guix licenses)))
    (list->vector (sort out (lambda (a b) (string<? (cdar a) (cdar b)))))))

(define (licenses-of package)
  (match (package-license package)
    ((? license:license? l) (list l))
    ((lst ...) (filter license:license? lst))
    (_ '())))

(define (spdx-expression licenses)
  ;; A list of licenses in Guix means the package is under all of them.
  (match (delete-duplicates (map license->spdx licenses))
    (() "NOASSERTION")
    ((one) one)
    (several (string-join (map (lambda (e)
                                 (if (string-index e #\space)
                                     (string-append "(" e ")")
                                     e))
                               several)
                          " AND "))))

(define (mirror-url uri)
  ;; mirror://gnu/hello/x.tar.gz -> the first (most authoritative) mirror.
  (if (string-prefix? "mirror://" uri)
      (let* ((rest (substring uri 9))
             (slash (string-index rest #\/))
             (kind (string->symbol (substring rest 0 slash)))
             (mirrors (or (assq-ref %mirrors kind) '())))
        (match mirrors
          ((first . _)
           (string-append (if (string-suffix? "/" first) first
                              (string-append first "/"))
                          (substring rest (+ slash 1))))
          (() uri)))
      uri))

(define (origin->json origin)
  (let* ((uri (origin-uri origin))
         (hash (origin-hash origin))
         (git? (git-reference? uri))
         ;; SPDX download locations: VCS+URL@REVISION for checkouts.
         (location (cond (git? (string-append "git+" (git-reference-url uri)
                                              "@" (git-reference-commit uri)))
                         ((svn-reference? uri)
                          (string-append "svn+" (svn-reference-url uri) "@"
                                         (number->string (svn-reference-revision uri))))
                         ((svn-multi-reference? uri)
                          (string-append "svn+" (svn-multi-reference-url uri) "@"
                                         (number->string
                                          (svn-multi-reference-revision uri))))
                         ((hg-reference? uri)
                          (string-append "hg+" (hg-reference-url uri) "@"
                                         (hg-reference-changeset uri)))
                         ((string? uri) (mirror-url uri))
                         ((and (pair? uri) (string? (car uri))) (mirror-url (car uri)))
                         (else "NOASSERTION"))))
    `(("method" . ,(if git? "git-fetch" "url-fetch"))
      ("uri" . ,location)
      ("file-name" . ,(or (origin-actual-file-name origin) ""))
      ("algorithm" . ,(if hash (symbol->string (content-hash-algorithm hash)) ""))
      ("hash" . ,(if hash (bytevector->base16-string (content-hash-value hash)) ""))
      ;; url-fetch hashes the file itself; git-fetch and friends hash the
      ;; checkout's normalized archive (nar), which no file checksum equals.
      ("recursive" . ,(not (eq? (origin-method origin) url-fetch))))))

(define (key package)
  (string-append (package-name package) "@" (package-version package)))

(define (input-packages package)
  (filter-map (match-lambda
                ((_ (? package? p) . _) p)
                (_ #f))
              (append (package-inputs package)
                      (package-propagated-inputs package)
                      (package-native-inputs package))))

(define (package->json package role)
  (let ((source (package-source package)))
    `(("name" . ,(package-name package))
      ("version" . ,(package-version package))
      ("license" . ,(spdx-expression (licenses-of package)))
      ("licenses" . ,(list->vector (map license:license-name (licenses-of package))))
      ("home-page" . ,(or (package-home-page package) ""))
      ("role" . ,role)
      ("source" . ,(if (origin? source) (origin->json source) 'null))
      ("depends" . ,(list->vector (delete-duplicates (map key (input-packages package))))))))

(define (describe packages)
  ;; The image's packages (with what they propagate: it lands in the
  ;; profile too), then every explicit input they were built from.
  (let* ((in-image (closure packages propagated))
         (everything (closure in-image input-packages))
         (image-set (make-hash-table)))
    (for-each (lambda (p) (hashq-set! image-set p #t)) in-image)
    (list->vector
     (map (lambda (p)
            (package->json p (if (hashq-ref image-set p) "package" "input")))
          (sort everything
                (lambda (a b) (string<? (key a) (key b))))))))

(include "describe.scm")

(match (cdr (command-line))
  (("licenses")
   (scm->json `(("guix" . ,%guix-version) ("licenses" . ,(license-table))))
   (newline))
  (args (describe-images args describe)))
