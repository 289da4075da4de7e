import { LabIcon } from '@jupyterlab/ui-components';

/** Three stacked bars, after Dask's logo. */
const DASK_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4.5 3.2 10 0.6v14.6l-5.5 2.6z"/>
    <path d="M10.2 6.2 15.6 3.6v14.6l-5.4 2.6z"/>
    <path d="M15.8 9.2 21.2 6.6v14.6l-5.4 2.6z" opacity="0.75"/>
  </g>
</svg>`;

export const daskClusterIcon = new LabIcon({
  name: 'dask-cluster-launcher:cluster',
  svgstr: DASK_SVG
});
