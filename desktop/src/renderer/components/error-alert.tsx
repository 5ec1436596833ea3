import type { ApiError } from '../lib/api-client';

/** A refusal in words: the code's sentence first, the code itself for IT. */
export function ErrorAlert({ error, title }: { error: ApiError; title?: string }) {
  return (
    <div className="alert alert-error" role="alert">
      {title ? <p className="alert-title">{title}</p> : null}
      <p>{error.message}</p>
      <p className="error-code">Error code: {error.code}</p>
    </div>
  );
}
