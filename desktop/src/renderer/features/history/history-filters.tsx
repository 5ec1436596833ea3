import { useState, type FormEvent } from 'react';
import type { HistoryFilter, ServiceLevel } from '../../../common/ipc-contract';
import { jobStateLabel, REPORT_STATUS_LABELS } from '../../lib/labels';
import { FormProblem } from '../../components/notices';

type StateFilter = NonNullable<HistoryFilter['state']>;
type ReportFilter = NonNullable<HistoryFilter['report']>;

interface HistoryFiltersProps {
  initial: HistoryFilter;
  onApply(filter: HistoryFilter): void;
}

/** Text, state, service level and dates; applied with Enter or the Apply button. */
export function HistoryFilters({ initial, onApply }: HistoryFiltersProps) {
  const [text, setText] = useState(initial.text ?? '');
  const [state, setState] = useState<StateFilter>(initial.state ?? 'all');
  const [serviceLevel, setServiceLevel] = useState<ServiceLevel | ''>(initial.serviceLevel ?? '');
  const [report, setReport] = useState<ReportFilter | ''>(initial.report ?? '');
  const [from, setFrom] = useState(initial.from ?? '');
  const [to, setTo] = useState(initial.to ?? '');
  const [problem, setProblem] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (from && to && from > to) {
      setProblem('The "From" date is after the "To" date.');
      return;
    }
    setProblem(null);
    onApply({ text, state, ...(serviceLevel ? { serviceLevel } : {}), ...(report ? { report } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) });
  };

  const clear = () => {
    setText('');
    setState('all');
    setServiceLevel('');
    setReport('');
    setFrom('');
    setTo('');
    setProblem(null);
    onApply({ state: 'all' });
  };

  return (
    <form className="filters" role="search" aria-label="Filter history" onSubmit={submit} noValidate>
      <div className="field field-wide">
        <label htmlFor="history-text">Search</label>
        <input id="history-text" type="search" value={text} placeholder="Patient name, ID or description" onChange={(e) => setText(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="history-state">State</label>
        <select id="history-state" value={state} onChange={(e) => setState(e.target.value as StateFilter)}>
          <option value="all">All</option>
          <option value="delivered">{jobStateLabel('delivered')}</option>
          <option value="confirmed">{jobStateLabel('confirmed')}</option>
          <option value="failed">{jobStateLabel('failed')}</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="history-service-level">Service level</label>
        <select id="history-service-level" value={serviceLevel} onChange={(e) => setServiceLevel(e.target.value as ServiceLevel | '')}>
          <option value="">Any</option>
          <option value="STAT">STAT</option>
          <option value="ROUTINE">Routine</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="history-report">Report</label>
        <select id="history-report" value={report} onChange={(e) => setReport(e.target.value as ReportFilter | '')}>
          <option value="">Any</option>
          <option value="awaiting">Awaiting report</option>
          <option value="any">Has a report</option>
          <option value="preliminary">{REPORT_STATUS_LABELS.preliminary}</option>
          <option value="final">{REPORT_STATUS_LABELS.final}</option>
          <option value="amended">{REPORT_STATUS_LABELS.amended}</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="history-from">From</label>
        <input id="history-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="history-to">To</label>
        <input id="history-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
      </div>
      <div className="actions">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button type="button" onClick={clear}>
          Clear filters
        </button>
      </div>
      <FormProblem problem={problem} />
    </form>
  );
}
