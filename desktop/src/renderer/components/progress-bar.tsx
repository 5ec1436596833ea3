interface ProgressBarProps {
  /** Accessible name, e.g. "Progress for DOE, JANE". */
  label: string;
  /** Whole percent 0–100, or null when the total is not known (indeterminate). */
  value: number | null;
  /** What a screen reader says instead of the bare percent. */
  valueText?: string;
  tone?: 'active' | 'good' | 'bad' | 'neutral';
}

/**
 * A progress bar with its value in ARIA (role=progressbar, aria-valuenow). The fill's width is set
 * through React's style prop, i.e. the CSSOM, which the page's style-src 'self' policy allows.
 */
export function ProgressBar({ label, value, valueText, tone = 'active' }: ProgressBarProps) {
  const determinate = value !== null;
  return (
    <div
      className={`progress progress-${tone}${determinate ? '' : ' progress-indeterminate'}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={determinate ? 0 : undefined}
      aria-valuemax={determinate ? 100 : undefined}
      aria-valuenow={determinate ? value : undefined}
      aria-valuetext={valueText}
    >
      <div className="progress-fill" style={determinate ? { width: `${value}%` } : undefined} />
    </div>
  );
}
