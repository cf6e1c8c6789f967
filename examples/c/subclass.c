/* subclass.c: mirrors seed 003 §9.5 "自定义进程" (class MyProcess(Process)
 * with name and num, whose run() prints '子进程(i)运行中...') and seed 001's
 * MyProcess(func), whose run() calls the function it was given.
 *
 * A subclass of MpProcess overrides the run vfunc, as a Python subclass
 * of Process overrides run(). Its state must be GObject properties: with
 * spawn and forkserver the child builds a new MyProcess from the type
 * name and the property values, so a plain struct field would not
 * arrive. For the same reason the "function" is the name of a task.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./subclass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <unistd.h>

#include <mp.h>

/* ---- MyProcess ------------------------------------------------------- */

#define MY_TYPE_PROCESS (my_process_get_type ())
G_DECLARE_FINAL_TYPE (MyProcess, my_process, MY, PROCESS, MpProcess)

struct _MyProcess
{
  MpProcess parent_instance;
  int num;      /* how many lines run() prints (seed 003) */
  char *func;   /* or: a task for run() to call (seed 001) */
};

G_DEFINE_FINAL_TYPE (MyProcess, my_process, MP_TYPE_PROCESS)

enum { PROP_0, PROP_NUM, PROP_FUNC, N_PROPS };
static GParamSpec *properties[N_PROPS];

/* Runs in the child, on the MyProcess rebuilt there. */
static void
my_process_run (MpProcess     *process,
                GCancellable  *cancellable,
                GError       **error)
{
  MyProcess *self = MY_PROCESS (process);

  if (self->func != NULL)
    {
      /* def run(self): self.func() */
      g_autoptr(GVariant) result = mp_run_task (self->func, NULL, cancellable, error);
      return;
    }

  for (int i = 0; i < self->num; i++)
    printf ("%s (pid %d): child (%d) running...\n",   /* 子进程(i)运行中... */
            mp_process_get_name (process), (int) getpid (), i);
}

static void
my_process_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MyProcess *self = MY_PROCESS (object);

  switch (prop_id)
    {
    case PROP_NUM:
      g_value_set_int (value, self->num);
      break;
    case PROP_FUNC:
      g_value_set_string (value, self->func);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
my_process_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MyProcess *self = MY_PROCESS (object);

  switch (prop_id)
    {
    case PROP_NUM:
      self->num = g_value_get_int (value);
      break;
    case PROP_FUNC:
      g_free (self->func);
      self->func = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
my_process_finalize (GObject *object)
{
  g_free (MY_PROCESS (object)->func);
  G_OBJECT_CLASS (my_process_parent_class)->finalize (object);
}

static void
my_process_class_init (MyProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = my_process_get_property;
  object_class->set_property = my_process_set_property;
  object_class->finalize = my_process_finalize;
  MP_PROCESS_CLASS (klass)->run = my_process_run;

  /* Read-write and not construct-only: those are the ones that travel. */
  properties[PROP_NUM] =
    g_param_spec_int ("num", NULL, NULL, 0, G_MAXINT, 1,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FUNC] =
    g_param_spec_string ("func", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
my_process_init (MyProcess *self)
{
  self->num = 1;
}

/* MyProcess(name, num=1) */
static MpProcess *
my_process_new (const char *name,
                int         num)
{
  return g_object_new (MY_TYPE_PROCESS, "name", name, "num", num, NULL);
}

/* ---- the function of seed 001, as a task ------------------------------ */

static GVariant *
say_hello (GVariant      *args,
           GCancellable  *cancellable,
           gpointer       user_data,
           GError       **error)
{
  printf ("%s (pid %d): say_hello runs in the child\n",
          mp_process_get_name (mp_current_process ()), (int) getpid ());
  return NULL;
}

static gboolean
start_and_join (MpProcess  *p,
                GError    **error)
{
  printf ("Main process: starting %s...\n", mp_process_get_name (p));   /* 主进程{p.name}开始启动... */
  if (!mp_process_start (p, error) || !mp_process_join (p, -1, error))
    return FALSE;
  if (!mp_process_check_error (p, error))
    return FALSE;
  printf ("%s exited with code %d\n", mp_process_get_name (p), mp_process_get_exitcode (p));
  return mp_process_get_exitcode (p) == 0;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(MpProcess) q = NULL;
  g_autoptr(GError) error = NULL;

  /* Tasks and the subclass's type before mp_init(): a child looks the
   * type up by name. */
  mp_register_task ("say_hello", say_hello, NULL, NULL);
  g_type_ensure (MY_TYPE_PROCESS);
  mp_init (argc, argv);

  /* Seed 003: p = MyProcess('test1') (with num=3 here) */
  p = my_process_new ("test1", 3);
  if (!start_and_join (p, &error))
    goto fail;

  /* Seed 001: MyProcess(run, "XeanYu") */
  q = g_object_new (MY_TYPE_PROCESS, "name", "XeanYu", "func", "say_hello", NULL);
  if (!start_and_join (q, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("%s: %s\n", argv[0], error ? error->message : "a child failed");
  return 1;
}
