import type { ImportProblem } from '../../../common/ipc-contract';

const SHOWN = 200;

/** Files the import could not use, each with its name and the reason in words. */
export function ProblemList({ problems }: { problems: ImportProblem[] }) {
  if (problems.length === 0) return null;
  const shown = problems.slice(0, SHOWN);
  return (
    <section className="panel problems" aria-labelledby="import-problems-title">
      <h2 id="import-problems-title">Problems found ({problems.length})</h2>
      <ul className="problem-list">
        {shown.map((problem, index) => (
          <li key={`${index}:${problem.displayName}`}>
            <span className="file-name">{problem.displayName}</span>
            <span className="problem-reason">{problem.reason}</span>
          </li>
        ))}
      </ul>
      {problems.length > SHOWN ? <p className="muted">…and {problems.length - SHOWN} more.</p> : null}
    </section>
  );
}
