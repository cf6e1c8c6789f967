/* mp-version-macros.h: export and availability macros
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include <glib.h>

#include "mp-version.h"

/* The library is built with -fvisibility=hidden; only what these
 * macros mark is exported. */
#ifndef _MP_EXTERN
# define _MP_EXTERN __attribute__((visibility("default"))) extern
#endif

#define MP_VERSION_1_0 (MP_ENCODE_VERSION (1, 0, 0))

#ifndef MP_VERSION_MIN_REQUIRED
# define MP_VERSION_MIN_REQUIRED MP_VERSION_1_0
#endif

#ifndef MP_VERSION_MAX_ALLOWED
# define MP_VERSION_MAX_ALLOWED MP_VERSION_1_0
#endif

#define MP_AVAILABLE_IN_ALL _MP_EXTERN
#define MP_AVAILABLE_IN_1_0 _MP_EXTERN
#define MP_DEPRECATED_IN_1_0 G_DEPRECATED _MP_EXTERN
