import React from 'react';

export interface IErrorInfo {
  message: string;
  /** The input the error is about (JSON path), if any. */
  field: string | null;
}

/** An error from the server, naming the field it is about. */
export function ErrorBox(props: {
  error: IErrorInfo;
  testId: string;
}): JSX.Element {
  const { error, testId } = props;
  return (
    <div className="dcl-Error" role="alert" data-testid={testId}>
      {error.field && (
        <span className="dcl-Error-field" data-field={error.field}>
          {error.field}:{' '}
        </span>
      )}
      <span className="dcl-Error-message">{error.message}</span>
    </div>
  );
}
