/* mp-condition.h: a condition variable shared between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mp-version-macros.h"

G_BEGIN_DECLS

#define MP_TYPE_CONDITION (mp_condition_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpCondition, mp_condition, MP, CONDITION, GObject)

/**
 * MpConditionPredicate:
 * @user_data: data given with the predicate
 *
 * A test that mp_condition_wait_for() makes with the condition's lock held.
 *
 * Returns: %TRUE when the awaited state is there
 */
typedef gboolean (*MpConditionPredicate) (gpointer user_data);

MP_AVAILABLE_IN_1_0
MpCondition *mp_condition_new               (GObject              *lock,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpCondition *mp_condition_new_from_variant  (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
GObject     *mp_condition_get_lock          (MpCondition          *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_acquire           (MpCondition          *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_release           (MpCondition          *self,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_wait              (MpCondition          *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_condition_wait_async        (MpCondition          *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_wait_finish       (MpCondition          *self,
                                             GAsyncResult         *result,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_wait_for          (MpCondition          *self,
                                             MpConditionPredicate  predicate,
                                             gpointer              user_data,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_notify            (MpCondition          *self,
                                             guint                 n,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_condition_notify_all        (MpCondition          *self,
                                             GError              **error);

G_END_DECLS
