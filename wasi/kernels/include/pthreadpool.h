/* XNNPACK's public header names pthreadpool_t in its operator API; the microkernels this
 * module compiles never use a thread pool, so the type is all that is needed. */
typedef struct pthreadpool* pthreadpool_t;
