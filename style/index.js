import './base.css';
import './tables.css';
import './launch.css';
