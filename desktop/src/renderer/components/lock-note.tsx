export function LockIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm-2 6V4.5a2 2 0 1 1 4 0V7H6Z"
      />
    </svg>
  );
}

/** The note beside a setting IT policy has fixed: a lock and words, never the lock alone. */
export function LockNote({ id, children = 'Set by your IT department' }: { id?: string; children?: string }) {
  return (
    <p className="lock-note" id={id}>
      <LockIcon /> <span>Locked: {children}</span>
    </p>
  );
}
