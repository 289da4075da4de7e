import React from 'react';

export interface IErrorInfo {
  message: string;
  /** The input the error is about (JSON path), if any. */
  field: string | null;
}

/** The message without a leading "field: " that repeats the field. */
export function messageWithoutField(error: IErrorInfo): string {
  const prefix = error.field ? `${error.field}: ` : null;
  return prefix && error.message.startsWith(prefix)
    ? error.message.slice(prefix.length)
    : error.message;
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
      <span className="dcl-Error-message">{messageWithoutField(error)}</span>
    </div>
  );
}
