/* mp-process.h: a child process, with Python's Process semantics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mp-version-macros.h"
#include "mp-runtime.h"

G_BEGIN_DECLS

/**
 * MpProcessState:
 * @MP_PROCESS_STATE_INITIAL: made, not started
 * @MP_PROCESS_STATE_STARTED: started; it may be running or may have ended
 *   without anyone having noticed yet
 * @MP_PROCESS_STATE_EXITED: ended; #MpProcess:exitcode is set
 * @MP_PROCESS_STATE_CLOSED: mp_process_close() released its resources
 *
 * Where an #MpProcess is in its life.
 */
typedef enum
{
  MP_PROCESS_STATE_INITIAL,
  MP_PROCESS_STATE_STARTED,
  MP_PROCESS_STATE_EXITED,
  MP_PROCESS_STATE_CLOSED,
} MpProcessState;

#define MP_TYPE_PROCESS (mp_process_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_DERIVABLE_TYPE (MpProcess, mp_process, MP, PROCESS, GObject)

/**
 * MpProcessClass:
 * @parent_class: the parent class
 * @run: runs in the child. The default runs the task named by
 *   #MpProcess:task-name with #MpProcess:args, or the function given to
 *   mp_process_new_for_func(). A subclass overrides it, as a Python
 *   subclass of `Process` overrides `run()`. The child exits with 0 when
 *   it returns without error and with 1 when it sets @error.
 */
/**
 * MpProcessFunc:
 * @process: the process object, as seen in the child
 * @user_data: (closure): data given to mp_process_new_for_func()
 * @error: return location for a #GError
 *
 * A function run in a forked child.
 *
 * Returns: %TRUE on success, %FALSE with @error set on failure
 */
typedef gboolean (*MpProcessFunc) (MpProcess  *process,
                                   gpointer    user_data,
                                   GError    **error);

struct _MpProcessClass
{
  GObjectClass parent_class;

  void (*run) (MpProcess     *self,
               GCancellable  *cancellable,
               GError       **error);

  /*< private >*/
  gpointer _reserved[12];
};

MP_AVAILABLE_IN_1_0
MpProcess      *mp_process_new             (const char      *task_name,
                                            GVariant        *args);
MP_AVAILABLE_IN_1_0
MpProcess      *mp_process_new_for_func    (MpProcessFunc    func,
                                            gpointer         user_data,
                                            GDestroyNotify   destroy);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_start           (MpProcess       *self,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_join            (MpProcess       *self,
                                            double           timeout,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
void            mp_process_join_async      (MpProcess       *self,
                                            GCancellable    *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer         user_data);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_join_finish     (MpProcess       *self,
                                            GAsyncResult    *result,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_is_alive        (MpProcess       *self);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_terminate       (MpProcess       *self,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_kill            (MpProcess       *self,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_interrupt       (MpProcess       *self,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_check_error     (MpProcess       *self,
                                            GError         **error);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_close           (MpProcess       *self,
                                            GError         **error);

MP_AVAILABLE_IN_1_0
const char     *mp_process_get_name        (MpProcess       *self);
MP_AVAILABLE_IN_1_0
void            mp_process_set_name        (MpProcess       *self,
                                            const char      *name);
MP_AVAILABLE_IN_1_0
gboolean        mp_process_get_daemon      (MpProcess       *self);
MP_AVAILABLE_IN_1_0
void            mp_process_set_daemon      (MpProcess       *self,
                                            gboolean         daemon);
MP_AVAILABLE_IN_1_0
MpStartMethod   mp_process_get_start_method (MpProcess      *self);
MP_AVAILABLE_IN_1_0
void            mp_process_set_start_method (MpProcess      *self,
                                             MpStartMethod   method);
MP_AVAILABLE_IN_1_0
const char     *mp_process_get_task_name   (MpProcess       *self);
MP_AVAILABLE_IN_1_0
GVariant       *mp_process_get_args        (MpProcess       *self);
MP_AVAILABLE_IN_1_0
int             mp_process_get_pid         (MpProcess       *self);
MP_AVAILABLE_IN_1_0
MpProcessState  mp_process_get_state       (MpProcess       *self);
MP_AVAILABLE_IN_1_0
int             mp_process_get_exitcode    (MpProcess       *self);

MP_AVAILABLE_IN_1_0
MpProcess      *mp_current_process         (void);
MP_AVAILABLE_IN_1_0
GList          *mp_active_children         (void);

G_END_DECLS
