import type { ApiError } from '../lib/api-client';
import { ErrorAlert } from './error-alert';

/** A passing note, read out politely by screen readers (role=status); nothing when there is none. */
export function InfoNotice({ text }: { text: string | null | undefined }) {
  return text ? (
    <p className="alert alert-info" role="status">
      {text}
    </p>
  ) : null;
}

/** What is wrong with a form before anything is asked of main, announced at once (role=alert). */
export function FormProblem({ problem, id }: { problem: string | null | undefined; id?: string }) {
  return problem ? (
    <p className="alert alert-error" role="alert" id={id}>
      {problem}
    </p>
  ) : null;
}

/** A screen's last note and last refusal, in that order. */
export function ScreenNotices({ message, error }: { message: string | null | undefined; error: ApiError | null | undefined }) {
  return (
    <>
      <InfoNotice text={message} />
      {error ? <ErrorAlert error={error} /> : null}
    </>
  );
}
