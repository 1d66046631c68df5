/**
 * Stable reason codes of approval outcomes. They go into audit records and logs, and the
 * dashboard filters by them, so they never change meaning once shipped.
 */
export const ApprovalCode = Object.freeze({
  /** Every stage of the chain allowed. */
  ALLOWED: 'APPROVAL_ALLOWED',
  /** The agent disconnected or the request was cancelled while a stage was deciding. */
  CANCELLED: 'APPROVAL_CANCELLED',
  /** A rule named an approver that does not exist in the running policy. */
  UNKNOWN_APPROVER: 'APPROVER_UNKNOWN',
  /** An approve rule with no stages: nobody could allow it, so it denies. */
  NO_STAGES: 'APPROVAL_NO_STAGES',
  /** An approver threw: a bug or an unexpected environment failure. */
  APPROVER_ERROR: 'APPROVER_ERROR',
  /** Too many requests already wait for humans: new ones deny instead of paging without bound. */
  QUEUE_FULL: 'APPROVAL_QUEUE_FULL',

  LLM_ALLOWED: 'LLM_ALLOWED',
  LLM_DENIED: 'LLM_DENIED',
  LLM_TIMEOUT: 'LLM_TIMEOUT',
  LLM_BAD_ANSWER: 'LLM_BAD_ANSWER',
  LLM_HTTP_ERROR: 'LLM_HTTP_ERROR',
  LLM_BREAKER_OPEN: 'LLM_BREAKER_OPEN',
  /** More callers wait for the model than the approver queues. */
  LLM_QUEUE_FULL: 'LLM_QUEUE_FULL',
  /** The API key or credential for the model provider cannot be read. */
  LLM_AUTH_ERROR: 'LLM_AUTH_ERROR',

  HUMAN_APPROVED: 'HUMAN_APPROVED',
  HUMAN_DENIED: 'HUMAN_DENIED',
  HUMAN_TIMEOUT: 'HUMAN_TIMEOUT',
});

export type ApprovalCode = (typeof ApprovalCode)[keyof typeof ApprovalCode];
